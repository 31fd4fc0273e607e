import Foundation
import Testing
@testable import HVTrace

/// Damaged traces, one per finding of the corruption study in issue 17, each run through the built
/// `hvtrace` binary the way a user would: `dump` (reading every event; only `lost_events` lines are
/// printed, the diagnostics go to stderr), `report`, `flame` and `compare` against the undamaged
/// base. The fixtures are `Tests/Fixtures/bad/damage-NAME.hvt`; `damage-NAME.expected` holds the
/// exact output (status, stdout, stderr) of all four commands.
///
/// Regenerate after an intended change with
///     HVTRACE_REGENERATE_FIXTURES=1 swift test --filter DamagedTraceTests
/// and review `git diff Tests/Fixtures` before committing.
struct DamagedTraceTests {
    /// The undamaged traces the damage is done to (synthetic, 2 CPUs, 256-byte pages).
    enum Base: Sendable {
        /// ~300 events (`FixtureTests.base()`, the base of the other bad fixtures).
        case small
        /// ~1000 events: both CPUs have several pages.
        case large

        func stream() throws -> HVTStream {
            switch self {
            case .small: return try FixtureTests.base()
            case .large: return HVTStream(file: try FixtureTests.synthetic { $0.seed = 21; $0.cpus = 2; $0.events = 1_000 })
            }
        }
    }

    /// One damaged file: which base, and what is done to its decompressed stream.
    struct Damage: CustomTestStringConvertible, Sendable {
        let name: String
        var base: Base = .small
        let edit: @Sendable (inout HVTStream) throws -> Void
        var testDescription: String { name }
        var path: String { FixtureTests.root.appendingPathComponent("bad/damage-\(name).hvt").path }
        var expectedPath: String { FixtureTests.root.appendingPathComponent("bad/damage-\(name).expected").path }

        func make() throws -> [UInt8] {
            var stream = try base.stream()
            try edit(&stream)
            return stream.compressed()
        }
    }

    /// Page chunk payload offsets (10-byte chunk prefix, then the page header).
    static let chunkSequence = 2
    static let headerSequence = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.sequence
    static let headerTimestamp = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.timestamp

    static func setU64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    /// The chunk index of the page chunk of `cpu` with `sequence`.
    static func pageChunk(_ stream: HVTStream, cpu: Int, sequence: UInt64) -> Int {
        stream.pageChunkIndices.first { index in
            let payload = stream.chunks[index].payload
            return Int(payload[0]) | Int(payload[1]) << 8 == cpu && u64(payload, chunkSequence) == sequence
        }!
    }

    static let catalogue: [Damage] = [
        // A chunk and page header both claiming sequence 2^64 − 1 (the open-page marker): the
        // sequence tracker overflowed (SIGILL in every command).
        Damage(name: "sequence-is-open-marker") { stream in
            let chunk = stream.pageChunkIndices[5]
            setU64(&stream.chunks[chunk].payload, chunkSequence, .max)
            setU64(&stream.chunks[chunk].payload, headerSequence, .max)
        },
        // One page of each CPU stamped just past 2^63, each inside an exit: two exits of more than
        // 2^63 ticks made the flame totals wrap to almost nothing, a child came out at 10^14 % and
        // the tree view tried to allocate a 69 TB bar (SIGABRT).
        Damage(name: "page-timestamps-past-2-63", base: .large) { stream in
            for (cpu, sequence) in [(0, UInt64(1)), (1, 1)] {
                setU64(&stream.chunks[pageChunk(stream, cpu: cpu, sequence: sequence)].payload, headerTimestamp, 1 << 63 + 3_000_000)
            }
        },
    ]

    /// The built binary, as BadInputCommandTests runs it.
    static var binary: String { BadInputCommandTests.binary }

    /// Runs `hvtrace arguments` in `directory` and returns the transcript block.
    static func transcript(_ arguments: [String], in directory: TemporaryDirectory) throws -> String {
        let (status, stdout, stderr) = try BadInputCommandTests.run(arguments, in: directory)
        var text = "$ hvtrace " + arguments.joined(separator: " ") + "\nstatus \(status)\n"
        if !stdout.isEmpty { text += "--- stdout\n" + stdout + (stdout.hasSuffix("\n") ? "" : "\n") }
        if !stderr.isEmpty { text += "--- stderr\n" + stderr + (stderr.hasSuffix("\n") ? "" : "\n") }
        return text
    }

    /// What the four commands say about `damage` (run on copies named `damaged.hvt` and `base.hvt`).
    static func verdict(_ damage: Damage) throws -> String {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try FileManager.default.copyItem(atPath: damage.path, toPath: directory.path("damaged.hvt"))
        writeFile(directory.path("base.hvt"), try damage.base.stream().compressed())
        var text = ""
        for arguments in [["dump", "--no-header", "--event", "lost_events", "damaged.hvt"], ["report", "damaged.hvt"],
                          ["flame", "damaged.hvt"], ["compare", "base.hvt", "damaged.hvt"]] {
            text += try transcript(arguments, in: directory) + "\n"
        }
        return text
    }

    @Test(arguments: catalogue)
    func damagedTraceGivesItsExpectedOutput(_ damage: Damage) throws {
        if FixtureTests.regenerate { writeFile(damage.path, try damage.make()) }
        let actual = try Self.verdict(damage)
        if FixtureTests.regenerate { try actual.write(toFile: damage.expectedPath, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOfFile: damage.expectedPath, encoding: .utf8)
        #expect(actual == expected, "damage-\(damage.name): output differs from damage-\(damage.name).expected")
        // No damaged file makes a command crash (status above 128) or say nothing is wrong.
        #expect(!actual.contains("status 1") || actual.contains("$ hvtrace compare"))
        #expect(!actual.contains("data quality: ok"), "damage-\(damage.name) reported as undamaged")
    }
}

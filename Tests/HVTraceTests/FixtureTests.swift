import Foundation
import Testing
@testable import HVTrace

/// Golden files in Tests/Fixtures/{good,bad}, each with a `.expected` sidecar holding the exact
/// text the reader produces (babeltrace2-style succeed/fail trees).
///
/// Regenerate after an intended change with
///     HVTRACE_REGENERATE_FIXTURES=1 swift test --filter FixtureTests
/// then review `git diff Tests/Fixtures` before committing.
struct FixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let regenerate = ProcessInfo.processInfo.environment["HVTRACE_REGENERATE_FIXTURES"] == "1"

    /// One golden file: how to make it and where it lives.
    struct Fixture: CustomTestStringConvertible, Sendable {
        let name: String
        let folder: String
        let make: @Sendable () throws -> [UInt8]
        var testDescription: String { "\(folder)/\(name)" }
        var path: String { FixtureTests.root.appendingPathComponent(folder).appendingPathComponent(name + ".hvt").path }
        var expectedPath: String { FixtureTests.root.appendingPathComponent(folder).appendingPathComponent(name + ".expected").path }
    }

    // MARK: building blocks

    /// A synthetic trace's bytes (deterministic for fixed options).
    static func synthetic(_ configure: (inout SyntheticTraceOptions) -> Void) throws -> [UInt8] {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        var options = SyntheticTraceOptions()
        options.events = 300
        options.pageSize = 256
        configure(&options)
        _ = try SyntheticTraceGenerator.generate(to: directory.path("f.hvt"), options: options)
        return readFile(directory.path("f.hvt"))
    }

    /// The base of the bad fixtures: 2 CPUs, 256-byte pages, about 300 events.
    static func base() throws -> HVTStream {
        HVTStream(file: try synthetic { $0.seed = 21; $0.cpus = 2 })
    }

    /// Edits page chunk number `index` (in file order) of the base trace.
    static func editingPage(_ index: Int, _ edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        var stream = try base()
        let chunk = stream.pageChunkIndices[index]
        edit(&stream.chunks[chunk].payload)
        return stream.compressed()
    }

    /// The base stream cut at a stream offset and compressed completely (a recorder that stopped
    /// writing there).
    static func cutStream(at offset: (HVTStream, [Int]) -> Int) throws -> [UInt8] {
        let stream = try base()
        let (bytes, chunkOffsets) = stream.bytes()
        return Zstd.compress(Array(bytes[0..<offset(stream, chunkOffsets)]))
    }

    static func setU16(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value & 0xFF)
        bytes[offset + 1] = UInt8(value >> 8)
    }

    static func u16(_ bytes: [UInt8], _ offset: Int) -> Int { Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 }

    /// Page chunk payload offsets: 10-byte prefix, then the page header.
    static let usedBytesField = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.usedBytes

    // MARK: catalogue

    static let good: [Fixture] = [
        Fixture(name: "one-cpu-mixed", folder: "good") { try synthetic { $0.seed = 11; $0.cpus = 1 } },
        Fixture(name: "two-cpu-mixed", folder: "good") { try synthetic { $0.seed = 12; $0.cpus = 2; $0.events = 400 } },
        Fixture(name: "forced-loss", folder: "good") {
            try synthetic { $0.seed = 13; $0.cpus = 2; $0.events = 1500; $0.pagesPerCPU = 2; $0.drainIntervalNanoseconds = 3_000_000 }
        },
        Fixture(name: "unknown-chunk-and-extension-record", folder: "good") {
            var stream = try base()
            stream.chunks.insert(.init(type: 0x42, payload: [1, 2, 3, 4], offset: 0), at: 3)
            // Replace the first record of page 0 (exit_entry of 5+ bytes) by an extension record of an
            // id no decoder knows (127; 64 is guest_pc) of the same total length, so the page stays
            // valid and only that event disappears.
            let chunk = stream.pageChunkIndices[0]
            var payload = stream.chunks[chunk].payload
            let first = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size
            let used = u16(payload, usedBytesField)
            let firstLength = payload.withUnsafeBytes { raw -> Int in
                var decoder = RecordDecoder(base: raw.baseAddress! + first, length: used)
                _ = try? decoder.next()
                return decoder.offset
            }
            payload[first] = 127
            payload[first + 1] = 0  // delta 0
            payload[first + 2] = UInt8(firstLength - 3)  // payload length: the rest of the old record
            stream.chunks[chunk].payload = payload
            return stream.compressed()
        },
    ]

    static let bad: [Fixture] = [
        Fixture(name: "empty", folder: "bad") { [] },
        Fixture(name: "not-a-trace", folder: "bad") { Array("This is a text file, not a trace.\n".utf8) },
        Fixture(name: "wrong-magic", folder: "bad") {
            var stream = try base()
            stream.header[6] = UInt8(ascii: "X")
            return stream.compressed()
        },
        Fixture(name: "future-version", folder: "bad") {
            var stream = try base()
            setU16(&stream.header, 8, 2)
            return stream.compressed()
        },
        Fixture(name: "clock-frequency-zero", folder: "bad") {
            var stream = try base()
            // Region header bytes start at stream offset 20 (16-byte preamble + u32 length).
            for index in 0..<8 { stream.header[20 + RegionHeaderLayout.clockFrequency + index] = 0 }
            return stream.compressed()
        },
        Fixture(name: "truncated-in-header", folder: "bad") { try cutStream { _, _ in 30 } },
        Fixture(name: "truncated-in-page-header", folder: "bad") {
            try cutStream { stream, offsets in offsets[stream.pageChunkIndices[5]] + 5 + 10 + 16 }
        },
        Fixture(name: "truncated-mid-record", folder: "bad") {
            try cutStream { stream, offsets in offsets[stream.pageChunkIndices[5]] + 5 + 10 + 32 + 50 }
        },
        Fixture(name: "truncated-mid-zstd-frame", folder: "bad") {
            let flushed = try base().compressed(flushEveryChunk: true)
            return Array(flushed[0..<(flushed.count * 6 / 10)])
        },
        Fixture(name: "flipped-compressed-byte", folder: "bad") {
            var flushed = try base().compressed(flushEveryChunk: true)
            flushed[flushed.count * 7 / 10] ^= 0x5A
            return flushed
        },
        Fixture(name: "flipped-record-byte", folder: "bad") {
            // The first record's id becomes 48, a fixed-range id nobody defined.
            try editingPage(4) { $0[TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size] = 48 }
        },
        Fixture(name: "zero-length-page", folder: "bad") { try editingPage(3) { $0.removeSubrange(TraceFileLayout.pageChunkPrefix...) } },
        Fixture(name: "zero-used-bytes-page", folder: "bad") {
            try editingPage(3) { payload in
                setU16(&payload, usedBytesField, 0)
                payload.removeSubrange((TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size)...)
            }
        },
        Fixture(name: "lying-page-length", folder: "bad") {
            try editingPage(6) { payload in setU16(&payload, usedBytesField, UInt16(u16(payload, usedBytesField) + 40)) }
        },
        Fixture(name: "impossible-page-length", folder: "bad") {
            try editingPage(6) { payload in setU16(&payload, usedBytesField, 60_000) }
        },
        Fixture(name: "lying-chunk-length", folder: "bad") {
            let stream = try base()
            var (bytes, offsets) = stream.bytes()
            let at = offsets[stream.pageChunkIndices[5]]
            bytes.replaceSubrange((at + 1)..<(at + 5), with: [0xF0, 0xFF, 0xFF, 0x7F])
            return Zstd.compress(bytes)
        },
        Fixture(name: "sequence-gap", folder: "bad") {
            var stream = try base()
            let pages = stream.pageChunkIndices
            stream.chunks.remove(at: pages[5])
            stream.chunks.remove(at: pages[3])
            return stream.compressed()
        },
    ]

    // MARK: tests

    /// The file's bytes: the committed ones, or freshly made when regenerating.
    static func fixtureBytes(_ fixture: Fixture) throws -> [UInt8] {
        if regenerate {
            let bytes = try fixture.make()
            try FileManager.default.createDirectory(atPath: (fixture.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            writeFile(fixture.path, bytes)
            return bytes
        }
        return readFile(fixture.path)
    }

    static func compare(_ actual: String, with fixture: Fixture) throws {
        if regenerate { try actual.write(toFile: fixture.expectedPath, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOfFile: fixture.expectedPath, encoding: .utf8)
        #expect(actual == expected, "\(fixture.testDescription): reader output differs from \(fixture.name).expected")
    }

    /// What the reader says about a file: its error (path shown as the file name), or the count of
    /// events and the diagnostics block.
    static func readerVerdict(_ fixture: Fixture) -> String {
        do {
            let stream = try EventStream(path: fixture.path)
            var events = 0
            while (try? stream.next()) != nil { events += 1 }
            return "events: \(events)\n\(stream.diagnostics.rendered())\n"
        } catch {
            return "hvtrace: error: " + error.description.replacingOccurrences(of: fixture.path, with: fixture.name + ".hvt") + "\n"
        }
    }

    /// The same verdict from the file's bytes in memory: a reader of memory decompresses on the
    /// calling thread, a reader of a file on a thread of its own (`DecompressionPipeline`, when more
    /// than one CPU is online), and both must see exactly the same events, offsets and diagnostics.
    static func inMemoryReaderVerdict(_ fixture: Fixture) -> String {
        do {
            let stream = EventStream(source: try PageSource(bytes: readFile(fixture.path), name: fixture.path))
            var events = 0
            while (try? stream.next()) != nil { events += 1 }
            return "events: \(events)\n\(stream.diagnostics.rendered())\n"
        } catch {
            return "hvtrace: error: " + error.description.replacingOccurrences(of: fixture.path, with: fixture.name + ".hvt") + "\n"
        }
    }

    @Test(arguments: good + bad)
    func decompressionThreadChangesNothing(_ fixture: Fixture) throws {
        _ = try Self.fixtureBytes(fixture)
        #expect(Self.inMemoryReaderVerdict(fixture) == Self.readerVerdict(fixture))
    }

    @Test(arguments: good)
    func goodFixtureDumpsExactly(_ fixture: Fixture) throws {
        _ = try Self.fixtureBytes(fixture)
        let stream = try EventStream(path: fixture.path)
        var text = ""
        try stream.dump(path: fixture.name + ".hvt", options: TraceDumpOptions()) { text += $0 }
        text += stream.diagnostics.rendered() + "\n"
        try Self.compare(text, with: fixture)
        #expect(!stream.diagnostics.hasErrors)
    }

    /// Good fixtures are reproducible: regenerating gives the same decompressed stream.
    @Test(arguments: good)
    func goodFixtureIsReproducible(_ fixture: Fixture) throws {
        let committed = try Self.fixtureBytes(fixture)
        #expect(HVTStream(file: try fixture.make()).bytes().stream == HVTStream(file: committed).bytes().stream)
    }

    @Test(arguments: bad)
    func badFixtureGivesTheExpectedErrorOrDiagnostics(_ fixture: Fixture) throws {
        _ = try Self.fixtureBytes(fixture)
        try Self.compare(Self.readerVerdict(fixture), with: fixture)
    }
}

import Foundation
import Testing
@testable import HVTrace

/// `hvtrace import` on real ftrace captures of the KVM reference machine (Tests/Fixtures/good/import,
/// recorded by scripts/kvm-record-fixtures.sh) and on bad input derived from them
/// (Tests/Fixtures/bad/import). The built binary runs in a scratch directory, so the expected
/// texts hold short file names. Regenerate after an intended change with
///     HVTRACE_REGENERATE_FIXTURES=1 swift test --filter ImportFixtureTests
struct ImportFixtureTests {
    static let good = FixtureTests.root.appendingPathComponent("good/import")
    static let bad = FixtureTests.root.appendingPathComponent("bad/import")

    static let goodNames = ["probe-trace-local", "probe-trace-cmd-ns", "probe-trace-cmd-us", "probe-trace-pipe-lost",
                            "probe-trace-cmd-dropped", "probe-trace-raw", "probe-trace-tgid-mono", "linux-trace-tail"]
    static let badNames = ["kvm-exit-ec-not-hex", "kvm-exit-ec-out-of-range", "kvm-mmio-missing-length",
                           "truncated-in-kvm-hvc", "no-kvm-events", "not-ftrace"]

    /// Runs the built hvtrace with `arguments` in `directory`; (status, stdout, stderr).
    static func hvtrace(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputCommandTests.binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Copies fixture `name` (and its `.ids`) into a scratch directory.
    static func scratch(_ name: String, from folder: URL) throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: folder.appendingPathComponent(name + ".trace").path, toPath: directory.path(name + ".trace"))
        let ids = folder.appendingPathComponent(name + ".ids").path
        if FileManager.default.fileExists(atPath: ids) { try FileManager.default.copyItem(atPath: ids, toPath: directory.path(name + ".ids")) }
        return directory
    }

    static func importArguments(_ name: String, in directory: TemporaryDirectory) -> [String] {
        var arguments = ["import", name + ".trace", "-o", name + ".hvt"]
        if FileManager.default.fileExists(atPath: directory.path(name + ".ids")) { arguments += ["--event-ids", name + ".ids"] }
        return arguments
    }

    static func compare(_ actual: String, expectedAt path: String) throws {
        if FixtureTests.regenerate { try actual.write(toFile: path, atomically: true, encoding: .utf8) }
        #expect(actual == (try String(contentsOfFile: path, encoding: .utf8)), "differs from \(path)")
    }

    @Test("A real capture imports and reports exactly as expected", arguments: goodNames)
    func goodCaptureImportsAndReports(_ name: String) throws {
        let directory = try Self.scratch(name, from: Self.good)
        defer { directory.cleanup() }
        let (status, imported, importDiagnostics) = try Self.hvtrace(Self.importArguments(name, in: directory), in: directory)
        #expect(status == 0, "import: \(importDiagnostics)")
        let (reportStatus, report, reportWarnings) = try Self.hvtrace(["report", name + ".hvt"], in: directory)
        #expect(reportStatus == 0)
        let (_, flame, _) = try Self.hvtrace(["flame", name + ".hvt", "--folded"], in: directory)
        try Self.compare("$ hvtrace import\n" + imported + importDiagnostics + "\n$ hvtrace report\n" + report + reportWarnings
                         + "\n$ hvtrace flame --folded\n" + flame,
                         expectedAt: Self.good.appendingPathComponent(name + ".expected").path)
    }

    /// The plain count: kvm_exit lines by the name KVM prints (`(HVC64)`, `IRQ:`), read with string
    /// operations only; options/raw lines (type ids) count as UNKNOWN.
    static func plainExitCounts(_ text: String, exitTypeID: String?) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            if let exitTypeID, line.hasSuffix(" type: \(exitTypeID)") { counts["UNKNOWN", default: 0] += 1; continue }
            guard let at = line.range(of: "kvm_exit:") else { continue }
            let rest = line[at.upperBound...]
            if rest.contains("IRQ: HSR_EC") { counts["IRQ", default: 0] += 1; continue }
            guard let open = rest.range(of: " ("), let close = rest[open.upperBound...].firstIndex(of: ")") else { continue }
            counts[String(rest[open.upperBound..<close]), default: 0] += 1
        }
        return counts
    }

    @Test("Exit entries per reason in the .hvt equal a plain count of the kvm_exit lines", arguments: goodNames)
    func exitCountsMatchThePlainCount(_ name: String) throws {
        let directory = try Self.scratch(name, from: Self.good)
        defer { directory.cleanup() }
        let (status, _, stderr) = try Self.hvtrace(Self.importArguments(name, in: directory), in: directory)
        #expect(status == 0, "\(stderr)")
        let text = try String(contentsOfFile: directory.path(name + ".trace"), encoding: .utf8)
        var exitID: String?
        if let ids = try? String(contentsOfFile: directory.path(name + ".ids"), encoding: .utf8),
           let entry = ids.split(separator: ",").first(where: { $0.hasPrefix("kvm_exit=") }) {
            exitID = String(entry.dropFirst("kvm_exit=".count)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let plain = Self.plainExitCounts(text, exitTypeID: exitID)
        #expect(!plain.isEmpty)
        var decoded: [String: Int] = [:]
        let stream = try EventStream(path: directory.path(name + ".hvt"))
        while let timed = try stream.next() {
            if case let .exitEntry(ec, _, _) = timed.event { decoded[ExitReasonName.name(ec: ec), default: 0] += 1 }
        }
        #expect(decoded == plain)
    }

    @Test("Without lost events the report's count per reason is the plain count less the exits still open at the end",
          arguments: ["probe-trace-local", "probe-trace-cmd-ns", "probe-trace-cmd-us", "probe-trace-tgid-mono"])
    func reportCountsAreThePairedExits(_ name: String) throws {
        let directory = try Self.scratch(name, from: Self.good)
        defer { directory.cleanup() }
        _ = try Self.hvtrace(Self.importArguments(name, in: directory), in: directory)
        let text = try String(contentsOfFile: directory.path(name + ".trace"), encoding: .utf8)
        var expected = Self.plainExitCounts(text, exitTypeID: nil)
        if let wfx = expected.removeValue(forKey: "WFx") { expected["WFI"] = wfx }  // the probe waits with WFI
        // The last kvm_exit/kvm_entry line of the one vCPU thread: an exit then is still open.
        if let last = text.split(separator: "\n").last(where: { $0.contains("kvm_exit:") || $0.contains("kvm_entry:") }),
           last.contains("kvm_exit:"), let name = Self.plainExitCounts(String(last), exitTypeID: nil).keys.first {
            expected[name == "WFx" ? "WFI" : name]! -= 1
        }
        let report = try TraceAnalysis.report(path: directory.path(name + ".hvt"))
        let counts = Dictionary(uniqueKeysWithValues: report.reasons.map { ($0.reason, Int($0.count)) })
        #expect(counts == expected.filter { $0.value > 0 })
    }

    @Test("Bad input: one error line naming the file, line and column, exit status 2, no output file", arguments: badNames)
    func badInputIsRefusedWithItsPlace(_ name: String) throws {
        let directory = try Self.scratch(name, from: Self.bad)
        defer { directory.cleanup() }
        let (status, stdout, stderr) = try Self.hvtrace(["import", name + ".trace", "-o", "out.hvt"], in: directory)
        #expect(status == 2)
        #expect(stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory.path("out.hvt")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0.contains(".partial-") }.isEmpty)
        try Self.compare(stderr, expectedAt: Self.bad.appendingPathComponent(name + ".expected").path)
    }

    @Test("Lines nobody knows are counted and listed by number; the events around them still import")
    func unknownLinesAreCountedAndListed() throws {
        let directory = try Self.scratch("probe-trace-local", from: Self.good)
        defer { directory.cleanup() }
        var lines = try String(contentsOfFile: directory.path("probe-trace-local.trace"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.insert("this is not ftrace", at: 20)
        lines.insert("\u{1B}[0m garbage \u{7F}", at: 40)
        try lines.joined(separator: "\n").write(toFile: directory.path("noisy.trace"), atomically: true, encoding: .utf8)
        let (status, _, stderr) = try Self.hvtrace(["import", "noisy.trace"], in: directory)
        #expect(status == 0)
        #expect(stderr.contains("unknown_lines           2 info:") || stderr.contains("unknown_lines 2 info:"), "\(stderr)")
        #expect(stderr.contains("line 21: this is not ftrace"))
        #expect(stderr.contains("line 41: "))
        let clean = try TraceAnalysis.report(path: { () -> String in
            _ = try? Self.hvtrace(["import", "probe-trace-local.trace", "-o", "clean.hvt"], in: directory)
            return directory.path("clean.hvt")
        }())
        let noisy = try TraceAnalysis.report(path: directory.path("noisy.hvt"))
        #expect(noisy.reasons == clean.reasons)
    }

    @Test("Memory stays flat: a capture 40 times larger is read through the same fixed buffers")
    func largeCaptureStreams() throws {
        let directory = try Self.scratch("probe-trace-cmd-ns", from: Self.good)
        defer { directory.cleanup() }
        // Forty copies one after the other, each shifted 1 s later (so the capture stays in time order).
        let text = try String(contentsOfFile: directory.path("probe-trace-cmd-ns.trace"), encoding: .utf8)
        var big = "cpus=2\n"
        for copy in 0..<40 {
            for line in text.split(separator: "\n") where !line.hasPrefix("cpus=") {
                guard let range = line.range(of: "]     1.") else { big += line + "\n"; continue }
                big += line.replacingCharacters(in: range, with: "]     \(copy + 1).") + "\n"
            }
        }
        try big.write(toFile: directory.path("big.trace"), atomically: true, encoding: .utf8)
        var options = FtraceImportOptions(input: directory.path("big.trace"), output: directory.path("big.hvt"))
        options.compressionLevel = 1
        let summary = try FtraceImporter.run(options)
        #expect(summary.exits == 40 * 90)
        let one = try FtraceImporter.run(FtraceImportOptions(input: directory.path("probe-trace-cmd-ns.trace"),
                                                             output: directory.path("one.hvt")))
        #expect(summary.records == 40 * one.records)
        let report = try TraceAnalysis.report(path: directory.path("big.hvt"))
        #expect(report.totals.exits == 40 * (try TraceAnalysis.report(path: directory.path("one.hvt"))).totals.exits + 39)
    }

    @Test("--event-ids reads NAME=ID lists and files of NAME ID lines; nonsense is refused")
    func eventIDs() throws {
        #expect(try FtraceImportOptions.parseEventIDs("kvm_exit=61,kvm:kvm_entry=62") == [61: "kvm_exit", 62: "kvm_entry"])
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try "kvm_exit 61\nkvm:kvm_entry 62\n".write(toFile: directory.path("ids"), atomically: true, encoding: .utf8)
        #expect(try FtraceImportOptions.parseEventIDs(directory.path("ids")) == [61: "kvm_exit", 62: "kvm_entry"])
        #expect(throws: ImportError.self) { _ = try FtraceImportOptions.parseEventIDs("kvm_exit=x") }
    }
}

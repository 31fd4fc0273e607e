import Foundation
import Testing

/// Every command of the built `hvtrace` binary on bad input: one line on stderr naming the file,
/// what is wrong and where, exit status 2, nothing on stdout, and no output file (nor a temporary
/// `.partial-*` beside it) left behind. The binary is the one `swift build` put next to this test
/// bundle; each case runs in a fresh directory holding copies of the fixtures, so paths in the
/// messages are the short names below.
struct BadInputCommandTests {
    /// One invocation and what it must print.
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let stderr: String
        var status: Int32 = 2
        /// Files that must not exist afterwards (the `-o` targets).
        var absent: [String] = []
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `hvtrace` executable beside the running test bundle (`.build/<config>/`), else debug's.
    static let binary: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hvtrace").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return repository.appendingPathComponent(".build/debug/hvtrace").path
    }()

    /// Copies the fixtures and writes the JSON/threshold/folded inputs the cases name.
    static func workspace() throws -> TemporaryDirectory {
        let directory = TemporaryDirectory()
        let fixtures = repository.appendingPathComponent("Tests/Fixtures")
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent("bad").path)
        where name.hasSuffix(".hvt") {
            try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("bad/\(name)").path, toPath: directory.path(name))
        }
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("good/one-cpu-mixed.hvt").path,
                                         toPath: directory.path("good.hvt"))
        let summary = try String(contentsOfFile: fixtures.appendingPathComponent("good/analysis/report.json").path, encoding: .utf8)
        let files: [String: String] = [
            "good.json": summary,
            "missing-fields.json": #"{"schemaVersion": 1}"#,
            "future-schema.json": summary.replacingOccurrences(of: #""schemaVersion" : 1"#, with: #""schemaVersion" : 99"#),
            "zero-schema.json": summary.replacingOccurrences(of: #""schemaVersion" : 1"#, with: #""schemaVersion" : 0"#),
            "string-schema.json": #"{"schemaVersion": "one"}"#,
            "fast-clock.json": summary.replacingOccurrences(of: #""clockFrequencyHz" : 62500000"#, with: #""clockFrequencyHz" : 1000000000"#),
            "cut.json": String(summary.prefix(200)),
            "text.json": "not json\n",
            "th-type.json": #"{"default": {"thresholdPct": "x"}}"#,
            "th-cut.json": #"{"default": "#,
            "th-syntax.json": #"{"default": {thresholdPct: 5}}"#,
            "th-reason.json": #"{"reasons": {"WFII": {"thresholdPct": 5}}}"#,
            "th-negative.json": #"{"default": {"floorNs": -3}}"#,
            "bad.folded": "a;b;c notanumber\n",
        ]
        for (name, text) in files { try text.write(toFile: directory.path(name), atomically: true, encoding: .utf8) }
        return directory
    }

    static let headerErrors: [(file: String, message: String)] = [
        ("missing.hvt", "missing.hvt: open failed: No such file or directory"),
        ("empty.hvt", "empty.hvt: empty file (0 bytes): not an .hvt trace; record one again or check the copy"),
        ("not-a-trace.hvt", "not-a-trace.hvt: not an .hvt trace: byte 0 should start a zstd frame (28 b5 2f fd) but holds 54 68 69 73 20 69 73 20"),
        ("wrong-magic.hvt", #"wrong-magic.hvt: not an .hvt trace: stream offset 0 holds magic 0x00584c4946545648, expected 0x00454c4946545648 ("HVTFILE\0")"#),
        ("future-version.hvt", "future-version.hvt: file format version 2.1 is not supported by this hvtrace (reads 1.x): update hvtrace"),
        ("clock-frequency-zero.hvt", "clock-frequency-zero.hvt: invalid trace header at stream offset 36: region header field 'clock frequency' (region offset 16) holds 0, which is impossible"),
        ("truncated-in-header.hvt", "truncated-in-header.hvt: file ends at byte 43 inside the trace header (stream offset 30): the recording was cut short; nothing can be decoded"),
    ]

    /// Unreadable traces on every trace-reading command, with an output file requested where the
    /// command takes one.
    /// `report` and `compare` read traces or JSON summaries: a missing file or one that is neither
    /// gets the message that says so; a damaged trace the trace reader's.
    static func traceOrSummaryMessage(_ file: String, _ message: String) -> String {
        "hvtrace: error: " + (file == "not-a-trace.hvt"
            ? "not-a-trace.hvt: neither an .hvt trace (starts with zstd's 28 b5 2f fd) nor a 'report --format json' summary (starts with '{'): byte 0 holds 54 68 69 73 20 69 73 20"
            : file == "missing.hvt" ? "missing.hvt: cannot read (No such file or directory)" : message)
    }

    static let traceCases: [Case] = headerErrors.flatMap { file, message in
        [
            Case(arguments: ["dump", file], stderr: "hvtrace: error: " + message),
            Case(arguments: ["report", file, "-o", "out.txt"], stderr: traceOrSummaryMessage(file, message), absent: ["out.txt"]),
            Case(arguments: ["report", file, "--format", "json", "-o", "out.json"], stderr: traceOrSummaryMessage(file, message),
                 absent: ["out.json"]),
            Case(arguments: ["report", "good.hvt", file, "-o", "out.txt"], stderr: traceOrSummaryMessage(file, message), absent: ["out.txt"]),
            Case(arguments: ["flame", file, "-o", "out.txt"], stderr: "hvtrace: error: " + message, absent: ["out.txt"]),
            Case(arguments: ["flame", "good.hvt", "--diff", file, "-o", "out.txt"], stderr: "hvtrace: error: " + message, absent: ["out.txt"]),
            Case(arguments: ["compare", file, "good.hvt", "-o", "out.txt"], stderr: traceOrSummaryMessage(file, message),
                 absent: ["out.txt"]),
        ]
    }

    static let summaryPrefix = "hvtrace: error: "
    static let notASummary = "not a 'hvtrace report --format json' summary"

    /// Baselines, thresholds, folded files, output paths and options.
    static let otherCases: [Case] = [
        Case(arguments: ["report", "good.hvt", "future-schema.json", "-o", "out.txt"],
             stderr: summaryPrefix + "future-schema.json: report schemaVersion 99 is newer than this hvtrace reads (1); update hvtrace",
             absent: ["out.txt"]),
        Case(arguments: ["report", "good.hvt", "fast-clock.json", "--format", "json", "-o", "out.json"],
             stderr: summaryPrefix + "fast-clock.json: its clock runs at 1000000000 Hz but good.hvt's at 62500000 Hz; "
                 + "histograms in ticks of different clocks do not add exactly: merge recordings of one clock",
             absent: ["out.json"]),
        Case(arguments: ["report", "good.json", "--by", "irq", "-o", "out.txt"],
             stderr: summaryPrefix + "good.json: a summary grouped by 'reason', not by 'irq'; make it with 'report --by irq --format json' or drop --by",
             absent: ["out.txt"]),
        Case(arguments: ["compare", "missing-fields.json", "good.hvt", "-o", "out.txt"],
             stderr: summaryPrefix + "missing-fields.json: \(notASummary) (missing field 'trace')", absent: ["out.txt"]),
        Case(arguments: ["compare", "good.hvt", "future-schema.json"],
             stderr: summaryPrefix + "future-schema.json: report schemaVersion 99 is newer than this hvtrace reads (1); update hvtrace"),
        Case(arguments: ["compare", "zero-schema.json", "good.hvt"],
             stderr: summaryPrefix + "zero-schema.json: \(notASummary) (field 'schemaVersion' is 0; versions start at 1)"),
        Case(arguments: ["compare", "string-schema.json", "good.hvt"],
             stderr: summaryPrefix + "string-schema.json: \(notASummary) (field 'schemaVersion' is not an integer)"),
        Case(arguments: ["compare", "cut.json", "good.hvt"],
             stderr: summaryPrefix + "cut.json: \(notASummary) (not valid JSON: it ends at byte 200 before the JSON value is complete)"),
        Case(arguments: ["compare", "text.json", "good.hvt"],
             stderr: summaryPrefix + "text.json: neither an .hvt trace (starts with zstd's 28 b5 2f fd) nor a 'report --format json' summary (starts with '{'): byte 0 holds 6e 6f 74 20 6a 73 6f 6e"),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "th-type.json", "-o", "out.txt"],
             stderr: summaryPrefix + "th-type.json: bad thresholds file (field 'default.thresholdPct' is not a number); see 'hvtrace compare --help'",
             absent: ["out.txt"]),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "th-cut.json"],
             stderr: summaryPrefix + "th-cut.json: bad thresholds file (not valid JSON: it ends at byte 12 before the JSON value is complete); see 'hvtrace compare --help'"),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "th-syntax.json"],
             stderr: summaryPrefix + "th-syntax.json: bad thresholds file (not valid JSON: invalid value around character 13); see 'hvtrace compare --help'"),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "th-reason.json"],
             stderr: summaryPrefix + "th-reason.json: bad thresholds file (field 'reasons.WFII': no exit reason is called 'WFII'); see 'hvtrace compare --help'"),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "th-negative.json"],
             stderr: summaryPrefix + "th-negative.json: bad thresholds file (field 'default.floorNs' is negative); see 'hvtrace compare --help'"),
        Case(arguments: ["compare", "good.json", "good.hvt", "--thresholds", "none.json"],
             stderr: summaryPrefix + "none.json: cannot read (No such file or directory)"),
        Case(arguments: ["flame", "good.hvt", "--diff", "bad.folded", "-o", "out.txt"],
             stderr: summaryPrefix + "bad.folded:1: not a folded-stack line ('frame;frame;… count')", absent: ["out.txt"]),
        Case(arguments: ["flame", "good.hvt", "--diff", "none.folded"],
             stderr: summaryPrefix + "none.folded: cannot read (No such file or directory)"),
        // Output paths that cannot be written: nothing appears, not even the temporary file.
        Case(arguments: ["report", "good.hvt", "-o", "no-such-directory/out.txt"],
             stderr: summaryPrefix + "no-such-directory/out.txt: cannot write (No such file or directory); no output was written"),
        Case(arguments: ["compare", "good.json", "good.hvt", "-o", "no-such-directory/out.txt"],
             stderr: summaryPrefix + "no-such-directory/out.txt: cannot write (No such file or directory); no output was written"),
        Case(arguments: ["synth", "--events", "100", "-o", "no-such-directory/out.hvt"],
             stderr: summaryPrefix + "no-such-directory/out.hvt: create failed: No such file or directory"),
        Case(arguments: ["snapshot", "good.hvt", "-o", "out.hvt"],
             stderr: summaryPrefix + "good.hvt: file ends at byte 1324, but 4096 bytes are needed from offset 0x8000000: not a RAM file or memory dump of an hvtrace run, or --offset is wrong",
             absent: ["out.hvt"]),
        Case(arguments: ["snapshot", "good.hvt", "--offset", "0xffffffffffffffff"],
             stderr: summaryPrefix + "good.hvt: file ends at byte 1324, but 4096 bytes are needed from offset 0xffffffffffffffff: not a RAM file or memory dump of an hvtrace run, or --offset is wrong"),
        Case(arguments: ["snapshot", "none.bin"], stderr: summaryPrefix + "none.bin: cannot open: No such file or directory"),
        Case(arguments: ["snapshot", "good.hvt", "--offset", "twelve"],
             stderr: summaryPrefix + "--offset: expected a byte count (decimal or 0x…), got 'twelve'"),
        // record's options are checked before anything starts.
        Case(arguments: ["record", "--guest", "probe", "--cpus", "9", "-o", "out.hvt"], stderr: summaryPrefix + "--cpus 9: QEMU virt under the hypervisor has 1…8 physical CPUs (GICv2 serves at most 8)", absent: ["out.hvt"]),
        Case(arguments: ["run", "--guest", "linux", "--vcpus", "3"],
             stderr: summaryPrefix + "--vcpus 3 on --cpus 2: more vCPUs than physical CPUs is not supported yet (vCPU n runs on physical CPU n; there is no vCPU scheduler); use --cpus 3 or --vcpus 2"),
        Case(arguments: ["run", "--guest", "linux", "--memory", "lots"],
             stderr: summaryPrefix + "The value 'lots' is invalid for '--memory <size>': give a size such as 512M, 1536M or 2G"),
        Case(arguments: ["record", "--guest", "probe", "--timeout", "0", "-o", "out.hvt"],
             stderr: summaryPrefix + "--timeout must be a positive number of seconds", absent: ["out.hvt"]),
        Case(arguments: ["record", "--guest", "bogus"],
             stderr: summaryPrefix + "The value 'bogus' is invalid for '--guest <guest>'. Please provide one of 'probe', 'hostile', 'probe-compare', 'probe-timer-rate', 'nimbos-contract', 'nimbos' or 'linux'."),
    ]

    /// Runs the binary in `directory`; returns (status, stdout, stderr).
    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    @Test(arguments: traceCases + otherCases)
    func badInputIsOneLineAndExitStatus2(_ testCase: Case) throws {
        let directory = try Self.workspace()
        defer { directory.cleanup() }
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: directory.url.path))
        let (status, stdout, stderr) = try Self.run(testCase.arguments, in: directory)
        #expect(status == testCase.status)
        #expect(stderr == testCase.stderr + "\n")
        #expect(stdout.isEmpty)
        for name in testCase.absent { #expect(!FileManager.default.fileExists(atPath: directory.path(name)), "\(name) left behind") }
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: directory.url.path))
        #expect(after == before, "files appeared: \(after.subtracting(before).sorted())")
    }

    /// A trace cut after its header is not an error: what came before the cut is reported, with a
    /// warning naming the offset on stderr and the loss banner as the report's first line.
    @Test(arguments: [
        ("truncated-in-page-header.hvt", "file ends at byte 1075 (stream offset 1620) inside the chunk that starts at stream offset 1589, before the end chunk"),
        ("truncated-mid-record.hvt", "file ends at byte 1115 (stream offset 1686) inside the chunk that starts at stream offset 1589, before the end chunk"),
        ("truncated-mid-zstd-frame.hvt", "file ends at byte 880 (stream offset 1094) between chunks, inside a zstd frame, before the end chunk"),
    ])
    func truncatedTraceIsReportedWithAWarningNamingTheOffset(file: String, detail: String) throws {
        let directory = try Self.workspace()
        defer { directory.cleanup() }
        let warning = "hvtrace: warning: \(file): truncated_file: \(detail); results cover the events before that point\n"
        let (status, stdout, stderr) = try Self.run(["report", file], in: directory)
        #expect(status == 0)
        #expect(stderr == warning)
        #expect(stdout.hasPrefix("!!! INCOMPLETE TRACE: "))
        #expect(stdout.split(separator: "\n").first?.contains("file TRUNCATED") == true)
        let (flameStatus, _, flameErrors) = try Self.run(["flame", file, "-o", "flame.txt"], in: directory)
        #expect(flameStatus == 0)
        #expect(flameErrors == warning)
        #expect(FileManager.default.fileExists(atPath: directory.path("flame.txt")))
    }
}

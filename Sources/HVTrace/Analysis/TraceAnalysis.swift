// Running the analyses on inputs named on the command line: traces, JSON summaries, folded stacks.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the analyses on `.hvt` files through `PageSource` (per-CPU page order, no global merge).
public enum TraceAnalysis {
    /// Errors about which input to read.
    public enum InputError: Error, CustomStringConvertible {
        /// `traces/` has no `*.hvt` file to default to.
        case noTraceFound(directory: String)

        public var description: String {
            switch self {
            case let .noTraceFound(directory):
                return "no *.hvt trace in \(directory)/; record one ('hvtrace record') or name a FILE"
            }
        }
    }

    /// The newest `*.hvt` file in `directory` (by modification time).
    public static func newestTrace(in directory: String = "traces") throws -> String {
        let url = URL(fileURLWithPath: directory)
        let files = (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: [.contentModificationDateKey])) ?? []
        let traces = files.filter { $0.pathExtension == "hvt" }
        let dated = traces.map { file in
            (file, (try? file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast)
        }
        guard let newest = dated.max(by: { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0.path < $1.0.path }) else {
            throw InputError.noTraceFound(directory: directory)
        }
        return directory + "/" + newest.0.lastPathComponent
    }

    /// What the analyses need from a trace's header.
    public struct TraceClock: Sendable {
        public var clockFrequency: UInt64
        public var cpuCount: Int
    }

    /// Pairs every event of the trace at `path` into a sink made from the trace's header, page by
    /// page in file order (each CPU's pages in ring order: no merge across CPUs, memory flat), and
    /// returns the finished pairer with the decoder's diagnostics. A page-sequence gap or a page cut
    /// by a corrupt record is a discontinuity: the CPU's open exit is counted as unmatched.
    /// `warn` receives one line per problem that ended the decoding early (see `stopWarnings`).
    public static func run<Sink: ExitSink>(path: String, warn: (String) -> Void = { _ in }, makeSink: (TraceClock) -> Sink) throws
        -> (pairer: ExitPairer<Sink>, diagnostics: [DiagnosticEntry], clock: TraceClock) {
        let source = try PageSource(path: path)
        let result = run(source: source, makeSink: makeSink)
        stopWarnings(source.diagnostics, path: path).forEach(warn)
        return result
    }

    /// `run(path:makeSink:)` on an open page source (a file or bytes in memory).
    public static func run<Sink: ExitSink>(source: PageSource, makeSink: (TraceClock) -> Sink)
        -> (pairer: ExitPairer<Sink>, diagnostics: [DiagnosticEntry], clock: TraceClock) {
        let region = source.header.region
        let clock = TraceClock(clockFrequency: region.clockFrequency, cpuCount: Int(region.cpuCount))
        var pairer = ExitPairer(sink: makeSink(clock), cpuCount: clock.cpuCount)
        var nextSequence = [UInt64?](repeating: nil, count: clock.cpuCount)
        while let page = source.next() {
            let cpu = Int(page.cpu)
            if let expected = nextSequence[cpu], page.sequence != expected { pairer.noteDiscontinuity(cpu: cpu) }
            nextSequence[cpu] = page.sequence &+ 1
            // The hot loop: one page decoded straight into the pairer, whose state for this CPU
            // stays in a local for the whole page.
            let complete = withUnsafeMutablePointer(to: &pairer) { pairer in
                var visitor = PairingVisitor(pairer: pairer, run: pairer.pointee.beginRun(cpu: cpu))
                let complete = source.decode(page, into: &visitor)
                pairer.pointee.endRun(visitor.run)
                return complete
            }
            if !complete { pairer.noteDiscontinuity(cpu: cpu) }
        }
        pairer.finish()
        return (pairer, source.diagnostics.entries, clock)
    }

    /// The report of the trace at `path`, with its encoding figures (bytes per event in the ring
    /// and in the file, from the page source's per-page counters and the file's size).
    public static func report(path: String, grouping: ReportGrouping = .reason, warn: (String) -> Void = { _ in }) throws -> ExitReport {
        let source = try PageSource(path: path)
        let (pairer, diagnostics, clock) = run(source: source) {
            ReportBuilder(clockFrequency: $0.clockFrequency, grouping: grouping)
        }
        stopWarnings(source.diagnostics, path: path).forEach(warn)
        return finishedReport(pairer.sink, pairer: pairer, diagnostics: diagnostics, clock: clock, source: source, path: path)
    }

    /// The report a finished pass made, with the trace's encoding figures.
    static func finishedReport<Sink>(_ builder: ReportBuilder, pairer: ExitPairer<Sink>, diagnostics: [DiagnosticEntry], clock: TraceClock,
                                     source: PageSource, path: String) -> ExitReport {
        var report = builder.makeReport(pairing: pairer.diagnostics, firstTimestamp: pairer.firstTimestamp,
                                        lastTimestamp: pairer.lastTimestamp, cpuCount: max(clock.cpuCount, pairer.cpuCount),
                                        source: path, extraDiagnostics: diagnostics)
        report.encoding = ExitReport.Encoding(pages: source.pagesDelivered, recordBytes: source.recordBytesDelivered,
                                              events: source.diagnostics.eventsDecoded,
                                              fileBytes: PosixFile.size(atPath: path) ?? 0)  // 0: gone since it was read
        return report
    }

    /// What the HTML views of one trace need, from one pass: the report, the flame graph and the
    /// timeline (`start`: the trace's first timestamp, time zero of the timeline's axis).
    public struct Views {
        public var report: ExitReport
        public var flame: FlameGraph
        public var timeline: Timeline
        public var start: UInt64
    }

    /// The report, flame graph and timeline of the trace at `path` in one pass.
    public static func views(path: String, grouping: ReportGrouping = .reason, timelineBuckets: Int = 512,
                             warn: (String) -> Void = { _ in }) throws -> Views {
        let source = try openTraceOrExplain(path)
        let (pairer, diagnostics, clock) = run(source: source) { clock in
            SinkPair(ReportBuilder(clockFrequency: clock.clockFrequency, grouping: grouping),
                     SinkPair(FlameBuilder(), TimelineBuilder(clockFrequency: clock.clockFrequency, cpuCount: clock.cpuCount,
                                                              maximumBuckets: timelineBuckets)))
        }
        stopWarnings(source.diagnostics, path: path).forEach(warn)
        let report = finishedReport(pairer.sink.first, pairer: pairer, diagnostics: diagnostics, clock: clock, source: source, path: path)
        return Views(report: report, flame: pairer.sink.second.first.graph, timeline: pairer.sink.second.second.timeline,
                     start: report.trace.firstTimestamp)
    }

    /// Opens the trace at `path`; a file that is not zstd at all is named neither trace nor summary.
    static func openTraceOrExplain(_ path: String) throws -> PageSource {
        let result = Result { () throws(TraceFileError) -> PageSource in try PageSource(path: path) }
        if case let .failure(error) = result, case .notZstd = error.reason {
            throw AnalysisInputError.neitherTraceNorSummary(file: path, firstBytes: Array(try head(of: path).prefix(8)))
        }
        return try result.get()
    }

    /// The first bytes of `path` (to tell a JSON summary from a trace).
    static func head(of path: String) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AnalysisInputError.unreadable(file: path, reason: PosixErrors.lastMessage(opening: path))
        }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 64)) ?? Data()
    }

    /// True when `path` holds a JSON summary (its first non-blank byte is `{`), false for anything
    /// else (which must then be a trace).
    public static func isSummary(path: String) throws -> Bool {
        try head(of: path).first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == UInt8(ascii: "{")
    }

    /// The flame graph of the trace at `path`.
    public static func flameGraph(path: String, warn: (String) -> Void = { _ in }) throws -> (builder: FlameBuilder, pairing: PairingDiagnostics, diagnostics: [DiagnosticEntry]) {
        let (pairer, diagnostics, _) = try run(path: path, warn: warn) { _ in FlameBuilder() }
        return (pairer.sink, pairer.diagnostics, diagnostics)
    }

    /// A report from a trace or from a `report --format json` summary (told apart by the first
    /// non-blank byte: `{` is JSON, anything else must be a zstd-compressed .hvt trace).
    /// With `grouping` other than `.reason`, a trace is split by it and a summary must have been
    /// made with the same `--by`.
    public static func reportOrSummary(path: String, grouping: ReportGrouping = .reason,
                                       warn: (String) -> Void = { _ in }) throws -> ExitReport {
        let head = try head(of: path)
        guard head.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            do { return try report(path: path, grouping: grouping, warn: warn) } catch let error as TraceFileError {
                if case .notZstd = error.reason {
                    throw AnalysisInputError.neitherTraceNorSummary(file: path, firstBytes: Array(head.prefix(8)))
                }
                throw error
            }
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw AnalysisInputError.unreadable(file: path, reason: error.localizedDescription)
        }
        struct Version: Decodable { var schemaVersion: Int }
        let version: Int
        do { version = try JSONDecoder().decode(Version.self, from: data).schemaVersion } catch {
            throw AnalysisInputError.notAReport(file: path, reason: JSONInputProblem.describe(error, data: data))
        }
        guard version >= 1 else {
            throw AnalysisInputError.notAReport(file: path, reason: "field 'schemaVersion' is \(version); versions start at 1")
        }
        guard version <= ExitReport.currentSchemaVersion else {
            throw AnalysisInputError.unsupportedSchema(file: path, version: version)
        }
        let summary: ExitReport
        do { summary = try ExitReport.decode(data) } catch {
            throw AnalysisInputError.notAReport(file: path, reason: JSONInputProblem.describe(error, data: data))
        }
        if let problem = summary.inconsistency { throw AnalysisInputError.notAReport(file: path, reason: problem) }
        if grouping != .reason && summary.grouping != grouping {
            throw AnalysisInputError.groupingDiffers(file: path, has: summary.grouping?.rawValue ?? "reason", asked: grouping.rawValue)
        }
        return summary
    }

    /// One report of several traces and/or JSON summaries, merged exactly (`ReportMerger`, time
    /// spans of separate recordings); one input gives its own report unchanged. Inputs are read
    /// one at a time, so memory does not grow with their number.
    public static func mergedReport(paths: [String], grouping: ReportGrouping = .reason,
                                    warn: (String) -> Void = { _ in }) throws -> ExitReport {
        if paths.count == 1 { return try reportOrSummary(path: paths[0], grouping: grouping, warn: warn) }
        var merger = ReportMerger()
        for path in paths { try merger.add(try reportOrSummary(path: path, grouping: grouping, warn: warn), name: path) }
        return try merger.result()
    }

    /// Writes `text` to `path` through a temporary file beside it and a rename: on any error
    /// nothing is left at `path` or at the temporary name.
    public static func write(_ text: String, to path: String) throws {
        let file = try AtomicOutputFile(path: path)
        file.write(text)
        try file.commit()
    }

    /// One warning line per problem that ended the decoding early (truncation, unreadable data),
    /// naming the offset, so a command that prints only its own output still says the input was cut.
    public static func stopWarnings(_ diagnostics: DecodeDiagnostics, path: String) -> [String] {
        var warnings: [String] = []
        for kind in [DiagnosticKind.truncatedFile, .corruptCompressedData, .corruptChunk, .readError] where diagnostics[kind] > 0 {
            let detail = diagnostics.details(kind).first ?? kind.description
            warnings.append("\(path): \(kind.name): \(detail); results cover the events before that point")
        }
        return warnings
    }
}

/// errno text for the inputs `FileManager`/`FileHandle` could not open.
public enum PosixErrors {
    /// Why `path` cannot be opened for reading, as strerror says it ("No such file or directory").
    public static func lastMessage(opening path: String) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            close(descriptor)
            return "cannot open"
        }
        return String(cString: strerror(errno))
    }
}

extension ExitReport {
    /// Why a summary read from JSON cannot be the output of `report` (counts that disagree or
    /// cannot be real), naming the field; nil when it is consistent. `compare` trusts these numbers.
    var inconsistency: String? {
        guard trace.clockFrequencyHz > 0 else { return "field 'trace.clockFrequencyHz' is 0" }
        for (field, rows) in [("reasons", reasons), ("groups", groups)] {
            for (index, row) in rows.enumerated() {
                let place = "\(field)[\(index)]"
                var total = row.histogram.overflowCount
                var previous: UInt64?
                for (bucketIndex, bucket) in row.histogram.buckets.enumerated() {
                    let (sum, overflow) = total.addingReportingOverflow(bucket.count)
                    guard !overflow else { return "field '\(place).histogram.buckets' counts overflow 64 bits" }
                    total = sum
                    if let previous, bucket.value <= previous {
                        return "field '\(place).histogram.buckets[\(bucketIndex)].value' is not above the bucket before it"
                    }
                    previous = bucket.value
                }
                guard total == row.count else {
                    return "field '\(place).histogram' holds \(total) samples but '\(place).count' is \(row.count)"
                }
                guard row.count <= 1 << 53 else { return "field '\(place).count' is \(row.count), more than any trace holds" }
            }
        }
        return nil
    }
}

/// Feeds one page's records to an `ExitPairer` (see `TraceAnalysis.run`).
struct PairingVisitor<Sink: ExitSink>: RecordVisitor {
    let pairer: UnsafeMutablePointer<ExitPairer<Sink>>
    var run: ExitPairer<Sink>.Run

    @inline(__always)
    mutating func visit(_ event: TraceEvent, timestamp: UInt64) {
        pairer.pointee.consume(event, timestamp: timestamp, in: &run)
    }
}

extension DecodeDiagnostics {
    /// Every decoder counter as report diagnostics entries (data loss is a warning).
    public var entries: [DiagnosticEntry] {
        DiagnosticKind.allCases.map { kind in
            let severity: DiagnosticEntry.Severity
            switch kind.severity {
            case .info: severity = .info
            case .dataLoss: severity = .warning
            case .error: severity = .error
            }
            return DiagnosticEntry(name: kind.name, severity: severity, value: self[kind], description: kind.description)
        }
    }
}

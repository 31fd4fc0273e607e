// Running the analyses on inputs named on the command line: traces, JSON summaries, folded stacks.

import Foundation

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
    public static func run<Sink: ExitSink>(path: String, makeSink: (TraceClock) -> Sink) throws
        -> (pairer: ExitPairer<Sink>, diagnostics: [DiagnosticEntry], clock: TraceClock) {
        let source = try PageSource(path: path)
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

    /// The report of the trace at `path`.
    public static func report(path: String, grouping: ReportGrouping = .reason) throws -> ExitReport {
        let (pairer, diagnostics, clock) = try run(path: path) {
            ReportBuilder(clockFrequency: $0.clockFrequency, grouping: grouping)
        }
        return pairer.sink.makeReport(pairing: pairer.diagnostics, firstTimestamp: pairer.firstTimestamp,
                                      lastTimestamp: pairer.lastTimestamp, cpuCount: max(clock.cpuCount, pairer.cpuCount),
                                      source: path, extraDiagnostics: diagnostics)
    }

    /// The flame graph of the trace at `path`.
    public static func flameGraph(path: String) throws -> (builder: FlameBuilder, pairing: PairingDiagnostics, diagnostics: [DiagnosticEntry]) {
        let (pairer, diagnostics, _) = try run(path: path) { _ in FlameBuilder() }
        return (pairer.sink, pairer.diagnostics, diagnostics)
    }

    /// A report from a trace or from a `report --format json` summary (detected by its first byte).
    public static func reportOrSummary(path: String) throws -> ExitReport {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AnalysisInputError.unreadable(file: path, reason: "no such file or no permission")
        }
        let first = try handle.read(upToCount: 1) ?? Data()
        try? handle.close()
        guard first.first == UInt8(ascii: "{") else { return try report(path: path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw AnalysisInputError.unreadable(file: path, reason: error.localizedDescription)
        }
        struct Version: Decodable { var schemaVersion: Int? }
        guard let version = (try? JSONDecoder().decode(Version.self, from: data))?.schemaVersion else {
            throw AnalysisInputError.notAReport(file: path, reason: "no schemaVersion")
        }
        guard version <= ExitReport.currentSchemaVersion else {
            throw AnalysisInputError.unsupportedSchema(file: path, version: version)
        }
        do { return try ExitReport.decode(data) } catch {
            throw AnalysisInputError.notAReport(file: path, reason: "\(error)".split(separator: "\n").first.map(String.init) ?? "")
        }
    }

    /// Writes `text` to `path` through a temporary file and a rename: no partial file on error.
    public static func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw AnalysisInputError.unreadable(file: path, reason: "cannot write: \(error.localizedDescription)")
        }
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

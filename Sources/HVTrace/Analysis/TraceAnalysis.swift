// Running the analyses on inputs named on the command line: traces, JSON summaries, folded stacks.

import Foundation

/// Where a trace-reading analysis gets its events from. The `.hvt` reader (issue 2) drives the sink
/// page by page per CPU; until it is merged, only in-memory sequences can be analysed.
public enum TraceAnalysis {
    /// Errors about which input to read.
    public enum InputError: Error, CustomStringConvertible {
        /// `traces/` has no `*.hvt` file to default to.
        case noTraceFound(directory: String)
        /// `.hvt` decoding is not part of this build yet.
        case traceReaderUnavailable(file: String)

        public var description: String {
            switch self {
            case let .noTraceFound(directory):
                return "no *.hvt trace in \(directory)/; record one ('hvtrace record') or name a FILE"
            case let .traceReaderUnavailable(file):
                return "\(file): reading .hvt traces needs the trace-file reader, which this build does not have yet"
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

    /// Pairs every event of the trace at `path` (per-CPU order, page by page) into a sink made from the
    /// trace's header, and returns the finished pairer with the decoder's diagnostics entries.
    public static func run<Sink: ExitSink>(path: String, makeSink: (TraceClock) -> Sink) throws
        -> (pairer: ExitPairer<Sink>, diagnostics: [DiagnosticEntry], clock: TraceClock) {
        throw InputError.traceReaderUnavailable(file: path)
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

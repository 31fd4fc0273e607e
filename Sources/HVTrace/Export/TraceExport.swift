// `hvtrace export`: a trace in the formats other tools read. Each exporter is an `ExitSink` fed
// by the same pass as the report (per-CPU page order, every discontinuity cut and counted), so
// an export holds exactly the exits the report counts.

/// The formats `export` writes.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// Chrome trace-event JSON (Perfetto UI, chrome://tracing, speedscope).
    case chrome
    /// One CSV row per paired exit (DuckDB, pandas, spreadsheets).
    case csv
    /// HdrHistogram interval log (HistogramLogAnalyzer, hdrhistogram's HistogramLogReader).
    case hlog
}

/// What an export wrote, for the command's one-line summary.
public struct ExportSummary: Equatable, Sendable {
    public var exits: UInt64
    /// Records written: trace events, CSV rows or histogram lines.
    public var records: UInt64
    public var bytes: UInt64
    public var pairing: PairingDiagnostics
}

/// Options of `export`.
public struct ExportOptions: Sendable {
    /// Interval length of an `.hlog` line, seconds.
    public var hlogIntervalSeconds = 0.1
    /// Counter samples per CPU in a Chrome trace (the exits/s and p99 tracks).
    public var counterBuckets = 1_000

    public init() {}
}

/// Runs an exporter over a trace.
public enum TraceExport {
    /// Exports the trace at `path` as `format` into `output` (through a temporary file: nothing is
    /// left at `output` on error).
    public static func export(path: String, format: ExportFormat, to output: String, options: ExportOptions = ExportOptions(),
                              warn: (String) -> Void = { _ in }) throws -> ExportSummary {
        let source = try PageSource(path: path)
        let file = try AtomicOutputFile(path: output)
        let header = source.header
        var summary: ExportSummary
        switch format {
        case .chrome:
            let (pairer, _, _) = TraceAnalysis.run(source: source) { clock in
                SinkPair(ChromeTraceExporter(file: file, header: header),
                         TimelineBuilder(clockFrequency: clock.clockFrequency, cpuCount: clock.cpuCount,
                                         maximumBuckets: options.counterBuckets))
            }
            var exporter = pairer.sink.first
            exporter.finish(timeline: pairer.sink.second.timeline, pairing: pairer.diagnostics, source: path)
            summary = ExportSummary(exits: pairer.diagnostics.pairedExits, records: exporter.eventsWritten, bytes: 0,
                                    pairing: pairer.diagnostics)
        case .csv:
            let (pairer, _, clock) = TraceAnalysis.run(source: source) { clock in
                CSVExitExporter(clockFrequency: clock.clockFrequency, cpuCount: clock.cpuCount)
            }
            var exporter = pairer.sink
            let rows = try exporter.finish(into: file, firstTimestamp: pairer.firstTimestamp, clockFrequency: clock.clockFrequency)
            summary = ExportSummary(exits: pairer.diagnostics.pairedExits, records: rows, bytes: 0, pairing: pairer.diagnostics)
        case .hlog:
            let intervalTicks = max(1, UInt64((options.hlogIntervalSeconds * Double(header.region.clockFrequency)).rounded()))
            let (pairer, _, _) = TraceAnalysis.run(source: source) { clock in
                HdrIntervalLogExporter(clockFrequency: clock.clockFrequency, intervalTicks: intervalTicks)
            }
            let lines = pairer.sink.write(into: file, header: header, source: path)
            summary = ExportSummary(exits: pairer.diagnostics.pairedExits, records: lines, bytes: 0, pairing: pairer.diagnostics)
        }
        TraceAnalysis.stopWarnings(source.diagnostics, path: path).forEach(warn)
        try file.commit()
        summary.bytes = file.bytesWritten
        return summary
    }
}

extension PairedExit {
    /// What the exit was about, as `report --by` labels it: the hypercall function, the MMIO
    /// device (or stage-2 outcome), the INTID or the system register; empty when none was traced.
    public var detailLabel: String {
        for grouping in [ReportGrouping.hvc, .device, .irq, .sysreg] {
            let key = grouping.key(of: self)
            if key >> 32 != 0 { return grouping.label(ofKey: key) }
        }
        return ""
    }
}

/// Decimal renderings of tick counts in other units, exact where the clock allows.
enum TickUnits {
    /// `ticks` of a `frequency` Hz clock in units of 10^-`exponent` s (9: ns), rounded to
    /// `decimals` places, without trailing zeros after the point.
    static func decimal(_ ticks: UInt64, frequency: UInt64, exponent: Int, decimals: Int = 3) -> String {
        var scale: UInt64 = 1
        for _ in 0..<(exponent + decimals) { scale *= 10 }
        // ticks · scale / frequency in 128 bits, rounded to nearest.
        let product = ticks.multipliedFullWidth(by: scale)
        let frequency = max(1, frequency)
        let quotient = UInt128(product.high) << 64 | UInt128(product.low)
        let value = (quotient + UInt128(frequency / 2)) / UInt128(frequency)
        var divisor: UInt128 = 1
        for _ in 0..<decimals { divisor *= 10 }
        let whole = value / divisor, fraction = value % divisor
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return String(whole) + "." + digits
    }
}

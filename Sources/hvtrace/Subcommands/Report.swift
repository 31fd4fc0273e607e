import ArgumentParser
import HVTrace

/// `hvtrace report [FILE]`: exit counts, shares and latency percentiles per exit reason.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit-latency report: count, share and percentiles per exit reason.",
        discussion: """
            Pairs each exit entry with its return on the same CPU and reports, per exit reason, the \
            count, share of exits and of hypervisor time, min/p50/p90/p99/p99.9/max/mean in ns and \
            ticks, and a log2 histogram. Lost events, unmatched exits and decode errors are listed \
            first. The JSON format (schema in Sources/HVTrace/Analysis/REPORT-SCHEMA.md) is what \
            'hvtrace compare' reads as a baseline.

            Several inputs (traces and/or JSON summaries, mixed) are merged exactly: counts, \
            histograms and counters add, percentiles come from the summed histograms, the duration \
            is the sum of the recordings' durations. So a fleet's recordings reduce in any \
            map-reduce: 'report --format json' per trace (map), then 'report a.json b.json … \
            --format json' (reduce, as often as needed). All inputs need the same clock and --by.

            --format html writes one self-contained page (open it in any browser, offline): the \
            summary and data quality, latency histograms per reason (log2 and linear-in-log, p50/p99 \
            marked), a per-CPU timeline of exits/s, p99 and hypervisor time, and an interactive flame \
            graph (click to zoom, hover for self/total time, search).
            """)

    @Argument(help: "Traces (.hvt) or 'report --format json' summaries (default: the newest *.hvt in traces/).")
    var files: [String] = []

    @Option(help: "Also split each reason by: \(ReportGrouping.allCases.map(\.rawValue).joined(separator: ", ")).")
    var by: ReportGrouping = .reason

    @OptionGroup var output: OutputOptions

    func run() throws {
        let paths = files.isEmpty ? [try TraceAnalysis.newestTrace()] : files
        if output.format == .html {
            try output.emit(try HTMLReportPage.make(paths: paths, grouping: by, warn: printWarning))
            return
        }
        let report = try TraceAnalysis.mergedReport(paths: paths, grouping: by, warn: printWarning)
        try output.emit(try report.rendered(as: output.format))
    }
}

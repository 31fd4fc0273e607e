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
            """)

    @Argument(help: "A .hvt trace (default: the newest *.hvt in traces/).")
    var file: String?

    @Option(help: "Also split each reason by: \(ReportGrouping.allCases.map(\.rawValue).joined(separator: ", ")).")
    var by: ReportGrouping = .reason

    @OptionGroup var output: OutputOptions

    func run() throws {
        let path = try file ?? TraceAnalysis.newestTrace()
        let report = try TraceAnalysis.report(path: path, grouping: by, warn: printWarning)
        try output.emit(try report.rendered(as: output.format))
    }
}

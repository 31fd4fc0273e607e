import ArgumentParser
import HVTrace

extension ExportFormat: ExpressibleByArgument {}

/// `hvtrace export --format chrome|csv|hlog -o FILE TRACE`: the trace in other tools' formats.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a trace in the formats other tools read: Chrome trace JSON, CSV of exits, HdrHistogram log.",
        discussion: """
            chrome: Chrome trace-event JSON for ui.perfetto.dev, chrome://tracing or speedscope: one \
            thread per vCPU with every exit as a slice named after its reason and its handler phases \
            nested inside, guest markers and unmatched exits as instants, and per physical CPU counter \
            tracks of exits/s and p99 latency.
            csv: one row per paired exit in time order: time_ns,cpu,vcpu,reason,detail,latency_ns,latency_ticks \
            (e.g. duckdb -c "SELECT reason, count(*), quantile_disc(latency_ticks, 0.5) FROM 'exits.csv' GROUP BY reason").
            hlog: HdrHistogram interval log, one line per exit reason (Tag=REASON) and one for all exits \
            per --interval, latencies in ns (HistogramLogAnalyzer, hdrhistogram's HistogramLogReader).
            The exits are those 'hvtrace report' counts; the output appears only when complete.
            """)

    @Option(help: "Output format: chrome, csv or hlog.")
    var format: ExportFormat

    @Option(name: [.short, .long], help: ArgumentHelp("The file to write (through a temporary file and a rename).", valueName: "FILE"))
    var output: String

    @Option(help: ArgumentHelp("hlog: interval length in seconds of the trace clock.", valueName: "SECONDS"))
    var interval: Double = 0.1

    @Argument(help: "The .hvt trace to export.")
    var trace: String

    func validate() throws {
        guard interval > 0 && interval.isFinite else { throw ValidationError(ExportError.badInterval(seconds: interval).description) }
    }

    func run() throws {
        var options = ExportOptions()
        options.hlogIntervalSeconds = interval
        let summary = try TraceExport.export(path: trace, format: format, to: output, options: options, warn: printWarning)
        let unit = format == .chrome ? "trace events" : format == .csv ? "rows" : "interval histograms"
        var line = "hvtrace: \(output): \(summary.exits) exits as \(summary.records) \(unit), \(summary.bytes) bytes"
        let unmatched = summary.pairing.unmatchedEntries + summary.pairing.unmatchedReturns
        if unmatched > 0 || summary.pairing.lostEvents > 0 {
            line += "; \(unmatched) unmatched exits and \(summary.pairing.lostEvents) lost events are not in it (see 'hvtrace report')"
        }
        printToStandardError(line)
    }
}

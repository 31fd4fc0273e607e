import ArgumentParser
import HVTrace

/// `hvtrace dump FILE`: the header block, then one line per event in time order, like
/// `trace-cmd report`; diagnostics go to stderr at the end.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a trace's header and its events, one line per event, in time order.",
        discussion: "Diagnostics (lost events, corrupt pages, truncation) are printed to stderr at the end."
    )

    @OptionGroup var input: TraceInputOptions

    @Option(help: "Stop after this many events (after filtering).")
    var limit: Int?

    @Option(help: ArgumentHelp("Only events of these CPUs (comma-separated).", valueName: "cpu,…"))
    var cpu: String?

    @Option(help: ArgumentHelp("Only these events (comma-separated names, e.g. exit_entry,mmio).", valueName: "name,…"))
    var event: String?

    @Flag(help: "Omit the header block.")
    var noHeader = false

    private var cpuFilter: Set<UInt16>? {
        cpu.map { Set($0.split(separator: ",").compactMap { UInt16($0) }) }
    }

    private var eventFilter: Set<String>? {
        event.map { Set($0.split(separator: ",").map(String.init)) }
    }

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more, not \(limit)") }
        if let cpu {
            for item in cpu.split(separator: ",", omittingEmptySubsequences: false) where UInt16(item) == nil {
                throw ValidationError("--cpu takes CPU numbers separated by commas; '\(item)' is not one")
            }
        }
        if let event {
            let known = Set(EventID.allCases.map { "\($0.name)" })
            for item in event.split(separator: ",", omittingEmptySubsequences: false) where !known.contains(String(item)) {
                throw ValidationError("--event: unknown event '\(item)'; known: \(EventID.allCases.map { "\($0.name)" }.joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        let stream = try input.openStream()
        let options = TraceDumpOptions(limit: limit, cpus: cpuFilter, events: eventFilter, showHeader: !noHeader)
        try stream.dump(path: input.file, options: options) { print($0, terminator: "") }
        printToStandardError(stream.diagnostics.rendered())
    }
}

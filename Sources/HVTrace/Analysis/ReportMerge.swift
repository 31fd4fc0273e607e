// Exact merging of exit reports: many traces (or their `report --format json` summaries) reduce to
// one answer. Every figure of a report is a sum, a min or a max of what its exits contributed —
// counts, tick sums, HdrHistogram buckets, log2 buckets, pairing and decoder counters — so the
// merge adds them, and the percentiles of the merged buckets are those of one report over all
// the exits. Merging is associative and commutative up to input order (a reduce of reduces is
// the same report), which is what a map-reduce over a fleet's recordings, or issue 18's parallel
// analysis of one trace, needs.

/// Why reports cannot be merged.
public enum ReportMergeError: Error, Equatable, CustomStringConvertible {
    /// Nothing to merge.
    case noInputs
    /// Histograms hold clock ticks; two clocks do not add exactly.
    case clockMismatch(first: String, firstHz: UInt64, other: String, otherHz: UInt64)
    /// Reports split by different `--by` groupings (or one split, one not).
    case groupingMismatch(first: String, firstGrouping: String, other: String, otherGrouping: String)

    public var description: String {
        switch self {
        case .noInputs:
            return "no reports to merge"
        case let .clockMismatch(first, firstHz, other, otherHz):
            return "\(other): its clock runs at \(otherHz) Hz but \(first)'s at \(firstHz) Hz; "
                + "histograms in ticks of different clocks do not add exactly: merge recordings of one clock"
        case let .groupingMismatch(first, firstGrouping, other, otherGrouping):
            return "\(other): grouped by '\(otherGrouping)' but \(first) by '\(firstGrouping)'; "
                + "make every summary with the same --by"
        }
    }
}

/// Adds reports up one at a time (`add`), then gives the merged report (`result`).
public struct ReportMerger {
    /// How the inputs' time spans combine.
    public enum TimeSpans: Sendable {
        /// Separate recordings (a fleet, or runs one after another): durations add, so exits/s is
        /// per second of recorded time. What `report A.hvt B.hvt` uses.
        case separateRecordings
        /// Pieces of one recording on one clock (per-CPU or per-range parts of a trace): the
        /// duration is the span from the earliest first to the latest last timestamp.
        case piecesOfOneRecording
    }

    public let timeSpans: TimeSpans
    var first: (name: String, report: ExitReport)?
    var names: [String] = []
    var reasons: [String: RowTally] = [:]
    var groups: [GroupKey: RowTally] = [:]
    var events: UInt64 = 0
    var cpuCount = 0
    var firstTimestamp: UInt64 = .max
    var lastTimestamp: UInt64 = 0
    var durationTicks: UInt64 = 0
    var pairing = PairingDiagnostics()
    var diagnosticOrder: [String] = []
    var diagnostics: [String: DiagnosticEntry] = [:]
    var encodings: [ExitReport.Encoding?] = []

    struct GroupKey: Hashable {
        var reason: String
        var group: String
    }

    public init(timeSpans: TimeSpans = .separateRecordings) { self.timeSpans = timeSpans }

    /// Adds `report`; `name` identifies it in errors and in `trace.mergedFrom` (its source when nil).
    public mutating func add(_ report: ExitReport, name: String? = nil) throws(ReportMergeError) {
        let label = name ?? report.trace.source ?? "input \(names.count + 1)"
        if let (firstName, firstReport) = first {
            guard report.trace.clockFrequencyHz == firstReport.trace.clockFrequencyHz else {
                throw .clockMismatch(first: firstName, firstHz: firstReport.trace.clockFrequencyHz,
                                     other: label, otherHz: report.trace.clockFrequencyHz)
            }
            guard report.grouping == firstReport.grouping else {
                throw .groupingMismatch(first: firstName, firstGrouping: firstReport.grouping?.rawValue ?? "reason",
                                        other: label, otherGrouping: report.grouping?.rawValue ?? "reason")
            }
        } else {
            first = (label, report)
        }
        names += report.trace.mergedFrom ?? [label]
        for row in report.reasons { reasons[row.reason, default: RowTally()].add(RowTally(row)) }
        for row in report.groups {
            groups[GroupKey(reason: row.reason, group: row.group ?? "-"), default: RowTally()].add(RowTally(row))
        }
        events &+= report.trace.events
        cpuCount = max(cpuCount, report.trace.cpuCount)
        if report.trace.durationTicks > 0 || report.trace.events > 0 {
            firstTimestamp = min(firstTimestamp, report.trace.firstTimestamp)
            lastTimestamp = max(lastTimestamp, report.trace.lastTimestamp)
        }
        durationTicks.addSaturating(report.trace.durationTicks)
        pairing.add(report.pairing)
        for entry in report.diagnostics {
            if diagnostics[entry.name] == nil {
                diagnosticOrder.append(entry.name)
                diagnostics[entry.name] = entry
            } else {
                diagnostics[entry.name]!.value.addSaturating(entry.value)
            }
        }
        encodings.append(report.encoding)
    }

    /// The merged report (`trace.source` nil, `trace.mergedFrom` naming every input).
    public func result() throws(ReportMergeError) -> ExitReport {
        guard let (_, model) = first else { throw .noInputs }
        let clock = max(1, model.trace.clockFrequencyHz)
        let nanosecondsPerTick = 1e9 / Double(clock)
        let totalExits = reasons.values.reduce(UInt64(0)) { $0 &+ $1.count }
        let totalTicks = reasons.values.map(\.sumTicks).saturatingSum()
        func row(_ tally: RowTally, reason: String, group: String?) -> ReportRow {
            ReportRow(reason: reason, group: group, tally: tally, totalExits: totalExits, totalTicks: totalTicks,
                      nanosecondsPerTick: nanosecondsPerTick)
        }
        let hasEvents = firstTimestamp <= lastTimestamp
        let duration: UInt64
        switch timeSpans {
        case .separateRecordings: duration = durationTicks
        case .piecesOfOneRecording: duration = hasEvents ? lastTimestamp - firstTimestamp : 0
        }
        let durationNs = Double(duration) * nanosecondsPerTick
        var encoding: ExitReport.Encoding?
        if !encodings.isEmpty, encodings.allSatisfy({ $0 != nil }) {
            let all = encodings.map { $0! }
            encoding = ExitReport.Encoding(pages: all.reduce(0) { $0 &+ $1.pages }, recordBytes: all.reduce(0) { $0 &+ $1.recordBytes },
                                           events: all.reduce(0) { $0 &+ $1.events }, fileBytes: all.reduce(0) { $0 &+ $1.fileBytes })
        }
        var trace = ExitReport.TraceInfo(source: nil, clockFrequencyHz: model.trace.clockFrequencyHz, cpuCount: cpuCount,
                                         events: events, firstTimestamp: hasEvents ? firstTimestamp : 0,
                                         lastTimestamp: lastTimestamp, durationTicks: duration, durationNs: durationNs)
        trace.mergedFrom = names
        var report = ExitReport(
            schemaVersion: ExitReport.currentSchemaVersion, trace: trace,
            totals: .init(exits: totalExits, hypervisorTicks: totalTicks, hypervisorNs: Double(totalTicks) * nanosecondsPerTick,
                          exitsPerSecond: durationNs > 0 ? Double(totalExits) / (durationNs / 1e9) : 0),
            reasons: reasons.map { row($0.value, reason: $0.key, group: nil) }.sorted(by: ReportRow.heaviestFirst),
            grouping: model.grouping,
            groups: groups.map { row($0.value, reason: $0.key.reason, group: $0.key.group) }.sorted(by: ReportRow.heaviestFirst),
            pairing: pairing, diagnostics: diagnosticOrder.map { diagnostics[$0]! })
        report.encoding = encoding
        return report
    }

    /// Merges `reports` in order (names as in `add`).
    public static func merge(_ reports: [ExitReport], names: [String]? = nil,
                             timeSpans: TimeSpans = .separateRecordings) throws(ReportMergeError) -> ExitReport {
        var merger = ReportMerger(timeSpans: timeSpans)
        for (index, report) in reports.enumerated() { try merger.add(report, name: names?[index]) }
        return try merger.result()
    }
}

extension PairingDiagnostics {
    /// Adds another trace's counters.
    mutating func add(_ other: PairingDiagnostics) {
        events &+= other.events
        pairedExits &+= other.pairedExits
        entriesFollowedByEntry &+= other.entriesFollowedByEntry
        entriesCutByLostData &+= other.entriesCutByLostData
        entriesOpenAtEnd &+= other.entriesOpenAtEnd
        returnsWithoutEntry &+= other.returnsWithoutEntry
        lostEvents.addSaturating(other.lostEvents)
        eventsOutsideExits &+= other.eventsOutsideExits
        nonMonotonicTimestamps &+= other.nonMonotonicTimestamps
    }
}

// The exit-latency report: its data model (also the JSON schema, see REPORT-SCHEMA.md) and the
// sink that builds it from paired exits.

import Foundation

/// How `report --by` splits each exit reason into rows.
public enum ReportGrouping: String, CaseIterable, Sendable, Codable {
    /// By exit reason only (no extra table).
    case reason
    /// By SMCCC/PSCI function id of HVC/SMC exits.
    case hvc
    /// By emulated MMIO device (or stage-2 outcome when no device handled the fault).
    case device
    /// By physical INTID of IRQ exits.
    case irq
    /// By trapped system register.
    case sysreg
    /// By VM and vCPU.
    case vcpu
    /// By physical CPU.
    case cpu

    /// The group key of `exit` (bit 32 set when the exit has such a detail), for a dictionary.
    @inline(__always)
    func key(of exit: PairedExit) -> UInt64 {
        let details = exit.details
        switch self {
        case .reason: return 0
        case .hvc: return details.has(ExitDetails.hypercall) ? (1 << 32) | UInt64(details.functionID) : 0
        case .device:
            if details.has(ExitDetails.device) {
                // Devices with a register table (virtio-blk) get a row per register.
                let named = DeviceRegisterNames.name(device: details.device, offset: UInt64(details.deviceOffset)) != nil
                return (1 << 32) | UInt64(ExitDetailKind.deviceValue(device: details.device, offset: named ? details.deviceOffset : 0))
            }
            if details.has(ExitDetails.stage2) { return (2 << 32) | UInt64(details.stage2Outcome) }
            return 0
        case .irq: return details.has(ExitDetails.interrupt) ? (1 << 32) | UInt64(details.intid) : 0
        case .sysreg: return details.has(ExitDetails.sysregister) ? (1 << 32) | UInt64(details.sysreg) : 0
        case .vcpu: return (1 << 32) | UInt64(exit.vcpu)
        case .cpu: return (1 << 32) | UInt64(exit.cpu)
        }
    }

    /// Distinct groups `report --by` keeps its own histogram for. Each histogram holds a few
    /// hundred KiB, and a trace could name millions of function ids or INTIDs, so past this many
    /// the exits of any new group go to their reason's `(other)` row (memory stays flat).
    public static let maximumGroups = 64
    /// The group key of a reason's `(other)` row.
    static let otherKey: UInt64 = 3 << 32

    /// The label of a group key (`-` for exits without such a detail).
    func label(ofKey key: UInt64) -> String {
        let kind = key >> 32, value = UInt32(truncatingIfNeeded: key)
        if kind == 0 { return "-" }
        if key == Self.otherKey { return "(other)" }
        switch self {
        case .reason: return "-"
        case .hvc: return HypercallNames.name(value)
        case .device:
            if kind == 2 { return Stage2Outcome(rawValue: UInt8(value)).map { $0.name.description } ?? "outcome \(value)" }
            return DeviceRegisterNames.label(device: UInt8(truncatingIfNeeded: value), offset: UInt64(value >> 8))
        case .irq: return InterruptNames.name(UInt16(value))
        case .sysreg: return SysregNames.name(UInt16(value))
        case .vcpu: return "vm\(value >> 8)/vcpu\(value & 0xFF)"
        case .cpu: return "cpu\(value)"
        }
    }
}

/// A latency summary in one unit.
public struct LatencySummary: Equatable, Sendable, Codable {
    public var min: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    public subscript(percentile: ReportPercentile) -> Double {
        switch percentile {
        case .p50: return p50
        case .p90: return p90
        case .p99: return p99
        case .p999: return p999
        }
    }
}

/// One log2 bucket of the text histogram: [lowNs, highNs) nanoseconds (`lowNs` 0 and `highNs` 1 for 0 ns).
public struct Log2Bucket: Equatable, Sendable, Codable {
    public var lowNs: UInt64
    public var highNs: UInt64
    public var count: UInt64
}

/// One row of the report: an exit reason, or one group of a reason with `--by`.
public struct ReportRow: Equatable, Sendable, Codable {
    public var reason: String
    /// The sub-group label (`--by`), nil in the per-reason table.
    public var group: String?
    public var count: UInt64
    /// Fraction (0…1) of all paired exits.
    public var shareOfExits: Double
    /// Fraction (0…1) of all time spent in the hypervisor.
    public var shareOfTime: Double
    public var totalTicks: UInt64
    public var ticks: LatencySummary
    public var nanoseconds: LatencySummary
    /// Non-empty log2 range, first to last non-zero bucket.
    public var log2Histogram: [Log2Bucket]
    /// The HdrHistogram's recorded buckets in ticks, enough to recompute percentiles and tests.
    public var histogram: BucketedDistribution
}

/// One entry of the diagnostics list (Perfetto stats style).
public struct DiagnosticEntry: Equatable, Sendable, Codable {
    public enum Severity: String, Sendable, Codable { case info, warning, error }
    public var name: String
    public var severity: Severity
    public var value: UInt64
    public var description: String

    public init(name: String, severity: Severity, value: UInt64, description: String) {
        self.name = name
        self.severity = severity
        self.value = value
        self.description = description
    }
}

/// The whole report. Its JSON encoding is the stable schema documented in REPORT-SCHEMA.md.
public struct ExitReport: Equatable, Sendable, Codable {
    public static let currentSchemaVersion = 1

    public struct TraceInfo: Equatable, Sendable, Codable {
        /// The file the report came from (as given), nil for in-memory traces.
        public var source: String?
        public var clockFrequencyHz: UInt64
        public var cpuCount: Int
        public var events: UInt64
        public var firstTimestamp: UInt64
        public var lastTimestamp: UInt64
        public var durationTicks: UInt64
        public var durationNs: Double
        /// The inputs a merged report adds up (their sources, or their names when they had none),
        /// nil for the report of one trace. See `ReportMerger`.
        public var mergedFrom: [String]? = nil
    }

    public struct Totals: Equatable, Sendable, Codable {
        public var exits: UInt64
        public var hypervisorTicks: UInt64
        public var hypervisorNs: Double
        /// Paired exits per second of trace duration (0 for an empty trace).
        public var exitsPerSecond: Double
    }

    /// How compactly the trace was stored, from the pages that were decoded: the ring's bytes (the
    /// records plus each page's 32-byte header) and the `.hvt` file's bytes per decoded event.
    public struct Encoding: Equatable, Sendable, Codable {
        /// Pages decoded.
        public var pages: UInt64
        /// Record bytes of those pages (their `usedBytes`).
        public var recordBytes: UInt64
        /// Their page headers (`PageHeaderLayout.size` each).
        public var pageHeaderBytes: UInt64
        /// Events decoded from them (`lost_events` records included).
        public var events: UInt64
        /// Size of the `.hvt` file.
        public var fileBytes: UInt64
        /// (recordBytes + pageHeaderBytes) / events: what one event costs in the ring.
        public var ringBytesPerEvent: Double
        /// recordBytes / events.
        public var recordBytesPerEvent: Double
        /// fileBytes / events: what one event costs on disk (zstd-compressed).
        public var fileBytesPerEvent: Double

        /// The figures of `pages` pages holding `recordBytes` of records and `events` events, in a
        /// file of `fileBytes` bytes (every ratio is 0 without events).
        public init(pages: UInt64, recordBytes: UInt64, events: UInt64, fileBytes: UInt64) {
            self.pages = pages
            self.recordBytes = recordBytes
            self.pageHeaderBytes = pages * UInt64(PageHeaderLayout.size)
            self.events = events
            self.fileBytes = fileBytes
            func perEvent(_ bytes: UInt64) -> Double { events == 0 ? 0 : Double(bytes) / Double(events) }
            ringBytesPerEvent = perEvent(recordBytes + pageHeaderBytes)
            recordBytesPerEvent = perEvent(recordBytes)
            fileBytesPerEvent = perEvent(fileBytes)
        }
    }

    public var schemaVersion: Int
    public var trace: TraceInfo
    public var totals: Totals
    /// Per exit reason, most hypervisor time first.
    public var reasons: [ReportRow]
    /// The `--by` grouping, nil without one.
    public var grouping: ReportGrouping?
    /// Per reason and group (with `--by`), most hypervisor time first.
    public var groups: [ReportRow]
    public var pairing: PairingDiagnostics
    /// Every diagnostic counter (pairing and decoding), zero or not.
    public var diagnostics: [DiagnosticEntry]
    /// Bytes per event in the ring and in the file; nil when the report was not made from a file
    /// (in-memory events) or came from a summary written before this field existed.
    public var encoding: Encoding? = nil

    /// Diagnostics with a non-zero value and severity above info: what a reader must not miss.
    public var problems: [DiagnosticEntry] { diagnostics.filter { $0.value > 0 && $0.severity != .info } }

    /// Reads a report written by `report --format json`.
    public static func decode(_ data: Data) throws -> ExitReport {
        try JSONDecoder().decode(ExitReport.self, from: data)
    }
}

/// The diagnostics list entries that exit pairing contributes.
extension PairingDiagnostics {
    public var entries: [DiagnosticEntry] {
        [
            DiagnosticEntry(name: "lost_events", severity: .warning, value: lostEvents,
                            description: "events the producer dropped"),
            DiagnosticEntry(name: "unmatched_entry_followed_by_entry", severity: .warning, value: entriesFollowedByEntry,
                            description: "entry followed by another entry (return lost)"),
            DiagnosticEntry(name: "unmatched_entry_cut_by_lost_data", severity: .warning, value: entriesCutByLostData,
                            description: "entries open when events were lost"),
            DiagnosticEntry(name: "unmatched_entry_at_end", severity: .info, value: entriesOpenAtEnd,
                            description: "entries open at the end of the trace"),
            DiagnosticEntry(name: "unmatched_return", severity: .warning, value: returnsWithoutEntry,
                            description: "returns without an open entry (entry lost)"),
            DiagnosticEntry(name: "events_outside_exits", severity: .info, value: eventsOutsideExits,
                            description: "handler events while no exit was open"),
            DiagnosticEntry(name: "non_monotonic_timestamps", severity: .error, value: nonMonotonicTimestamps,
                            description: "timestamps before the previous one on a CPU"),
        ]
    }
}

/// An `ExitSink` that accumulates per-reason (and per-group) latencies for a report.
public struct ReportBuilder: ExitSink {
    public let clockFrequency: UInt64
    public let grouping: ReportGrouping
    let highestTrackableTicks: UInt64
    let nanosecondsPerTick: Double
    /// Accumulator index per reason slot (−1: none yet), so the hot path indexes an array.
    var reasonSlots: [Int32]
    var reasonAccumulators: [LatencyAccumulator] = []
    var reasonOrder: [ExitReason] = []
    var groupSlots: [GroupKey: Int] = [:]
    var groupAccumulators: [LatencyAccumulator] = []
    var groupKeys: [GroupKey] = []
    /// Exits counted in an `(other)` row because `ReportGrouping.maximumGroups` groups existed.
    var foldedGroupExits: UInt64 = 0

    /// A reason and its `--by` group key.
    struct GroupKey: Hashable {
        var reason: ExitReason
        var key: UInt64
    }

    /// `clockFrequency` is the record clock in Hz; latencies above one minute of it are counted as
    /// overflow rather than held by the histogram.
    public init(clockFrequency: UInt64, grouping: ReportGrouping = .reason) {
        self.clockFrequency = max(1, clockFrequency)
        self.grouping = grouping
        self.highestTrackableTicks = max(1 << 20, self.clockFrequency.multipliedReportingOverflow(by: 60).partialValue)
        self.nanosecondsPerTick = 1e9 / Double(self.clockFrequency)
        self.reasonSlots = Array(repeating: -1, count: ExitReason.slotCount)
    }

    @inline(__always)
    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let reasonIndex = Int(exit.reason.rawValue)
        var slot = Int(reasonSlots[reasonIndex])
        if _slowPath(slot < 0) {
            slot = reasonAccumulators.count
            reasonSlots[reasonIndex] = Int32(slot)
            reasonAccumulators.append(newAccumulator())
            reasonOrder.append(exit.reason)
        }
        reasonAccumulators[slot].record(exit.latency)
        if grouping != .reason { recordGroup(exit) }
    }

    mutating func recordGroup(_ exit: PairedExit) {
        var key = GroupKey(reason: exit.reason, key: grouping.key(of: exit))
        if let slot = groupSlots[key] {
            groupAccumulators[slot].record(exit.latency)
            return
        }
        if groupKeys.count >= ReportGrouping.maximumGroups {
            foldedGroupExits &+= 1
            key.key = ReportGrouping.otherKey
            if let slot = groupSlots[key] {
                groupAccumulators[slot].record(exit.latency)
                return
            }
        }
        groupSlots[key] = groupAccumulators.count
        groupKeys.append(key)
        groupAccumulators.append(newAccumulator())
        groupAccumulators[groupAccumulators.count - 1].record(exit.latency)
    }

    func newAccumulator() -> LatencyAccumulator {
        LatencyAccumulator(highestTrackableTicks: highestTrackableTicks, nanosecondsPerTick: nanosecondsPerTick)
    }

    /// The finished report. `extraDiagnostics` are the decoder's counters (printed with pairing's).
    public func makeReport(pairing: PairingDiagnostics, firstTimestamp: UInt64, lastTimestamp: UInt64,
                           cpuCount: Int, source: String?, extraDiagnostics: [DiagnosticEntry] = []) -> ExitReport {
        let totalExits = reasonAccumulators.reduce(UInt64(0)) { $0 + $1.count }
        let totalTicks = reasonAccumulators.map(\.sumTicks).saturatingSum()
        let hasEvents = firstTimestamp <= lastTimestamp
        let duration = hasEvents ? lastTimestamp - firstTimestamp : 0
        let durationNs = Double(duration) * nanosecondsPerTick
        func row(_ accumulator: LatencyAccumulator, reason: ExitReason, group: String?) -> ReportRow {
            makeRow(accumulator, reason: reason.name, group: group, totalExits: totalExits, totalTicks: totalTicks)
        }
        var reasons = zip(reasonOrder, reasonAccumulators).map { row($1, reason: $0, group: nil) }
        reasons.sort(by: ReportRow.heaviestFirst)
        var groups = zip(groupKeys, groupAccumulators).map { row($1, reason: $0.reason, group: grouping.label(ofKey: $0.key)) }
        groups.sort(by: ReportRow.heaviestFirst)
        return ExitReport(
            schemaVersion: ExitReport.currentSchemaVersion,
            trace: .init(source: source, clockFrequencyHz: clockFrequency, cpuCount: cpuCount, events: pairing.events,
                         firstTimestamp: hasEvents ? firstTimestamp : 0, lastTimestamp: lastTimestamp,
                         durationTicks: duration, durationNs: durationNs),
            totals: .init(exits: totalExits, hypervisorTicks: totalTicks,
                          hypervisorNs: Double(totalTicks) * nanosecondsPerTick,
                          exitsPerSecond: durationNs > 0 ? Double(totalExits) / (durationNs / 1e9) : 0),
            reasons: reasons, grouping: grouping == .reason ? nil : grouping, groups: groups, pairing: pairing,
            diagnostics: extraDiagnostics + pairing.entries.filter { entry in !extraDiagnostics.contains { $0.name == entry.name } }
                + groupingDiagnostics + saturationDiagnostics(totalTicks: totalTicks))
    }

    /// When latency totals reached 2^64 − 1 ticks (only exits of impossible length get there: a
    /// corrupt timestamp), an error entry: totals and means are then lower bounds.
    func saturationDiagnostics(totalTicks: UInt64) -> [DiagnosticEntry] {
        let saturated = (reasonAccumulators + groupAccumulators).filter(\.sumSaturated).count
        guard saturated > 0 || totalTicks == .max else { return [] }
        return [DiagnosticEntry(name: "totals_saturated", severity: .error, value: UInt64(max(1, saturated)),
                                description: "latency totals that reached 2^64-1 ticks and stopped (exits of impossible length: a corrupt timestamp); totals and means are lower bounds")]
    }

    /// With `--by`: how many exits went to `(other)` rows (info: nothing is lost, only less split).
    var groupingDiagnostics: [DiagnosticEntry] {
        guard grouping != .reason else { return [] }
        return [DiagnosticEntry(name: "groups_folded_into_other", severity: .info, value: foldedGroupExits,
                                description: "exits counted in an (other) row: more than \(ReportGrouping.maximumGroups) distinct --by groups")]
    }

    func makeRow(_ accumulator: LatencyAccumulator, reason: String, group: String?, totalExits: UInt64,
                 totalTicks: UInt64) -> ReportRow {
        ReportRow(reason: reason, group: group, tally: RowTally(accumulator), totalExits: totalExits,
                  totalTicks: totalTicks, nanosecondsPerTick: nanosecondsPerTick)
    }
}

/// The exact sums a report row is computed from: what an accumulator holds at the end of a trace,
/// and what the rows of two reports add up to (`ReportMerger`). One function turns a tally into a
/// row, so a merged report and a report of the concatenated input print the same numbers.
struct RowTally: Equatable {
    var count: UInt64 = 0
    var sumTicks: UInt64 = 0
    /// `.max` while empty.
    var minTicks: UInt64 = .max
    var maxTicks: UInt64 = 0
    /// HdrHistogram buckets (value → count, values as the histogram reports them) and overflow.
    var buckets: [UInt64: UInt64] = [:]
    var overflowCount: UInt64 = 0
    /// Slot 0: 0 ns; slot k ≥ 1: [2^(k−1), 2^k) ns (as `LatencyAccumulator.log2Counts`).
    var log2Counts = [UInt64](repeating: 0, count: 65)

    init() {}

    init(_ accumulator: LatencyAccumulator) {
        count = accumulator.count
        sumTicks = accumulator.sumTicks
        minTicks = accumulator.minTicks
        maxTicks = accumulator.maxTicks
        let distribution = accumulator.distribution
        for bucket in distribution.buckets { buckets[bucket.value, default: 0] &+= bucket.count }
        overflowCount = distribution.overflowCount
        log2Counts = accumulator.log2Counts
    }

    /// The tally a row was made from (min exact below 2^53 ticks, as the JSON holds it).
    init(_ row: ReportRow) {
        count = row.count
        sumTicks = row.totalTicks
        if row.count > 0 {
            minTicks = row.ticks.min < 18_446_744_073_709_551_615.0 ? UInt64(row.ticks.min) : .max
            maxTicks = row.histogram.max
        }
        for bucket in row.histogram.buckets { buckets[bucket.value, default: 0] &+= bucket.count }
        overflowCount = row.histogram.overflowCount
        for bucket in row.log2Histogram {
            let slot = bucket.lowNs == 0 ? 0 : 64 - bucket.lowNs.leadingZeroBitCount
            log2Counts[min(slot, 64)] &+= bucket.count
        }
    }

    /// Adds another tally of the same clock: every figure is a sum, a min or a max.
    mutating func add(_ other: RowTally) {
        count.addSaturating(other.count)
        sumTicks.addSaturating(other.sumTicks)
        minTicks = Swift.min(minTicks, other.minTicks)
        maxTicks = Swift.max(maxTicks, other.maxTicks)
        for (value, bucketCount) in other.buckets { buckets[value, default: 0] &+= bucketCount }
        overflowCount &+= other.overflowCount
        for slot in log2Counts.indices { log2Counts[slot] &+= other.log2Counts[slot] }
    }

    var distribution: BucketedDistribution {
        BucketedDistribution(buckets: buckets.sorted { $0.key < $1.key }.map { .init(value: $0.key, count: $0.value) },
                             overflowCount: overflowCount, max: count == 0 ? 0 : maxTicks)
    }
}

extension ReportRow {
    /// The row of `tally`: percentiles from its buckets, shares of the report's totals.
    init(reason: String, group: String?, tally: RowTally, totalExits: UInt64, totalTicks: UInt64, nanosecondsPerTick: Double) {
        let distribution = tally.distribution
        let count = tally.count
        let mean = count == 0 ? 0 : Double(tally.sumTicks) / Double(count)
        let ticks = LatencySummary(
            min: Double(count == 0 ? 0 : tally.minTicks),
            p50: Double(distribution.value(at: .p50)), p90: Double(distribution.value(at: .p90)),
            p99: Double(distribution.value(at: .p99)), p999: Double(distribution.value(at: .p999)),
            max: Double(tally.maxTicks), mean: mean)
        let scale = nanosecondsPerTick
        let nanoseconds = LatencySummary(min: ticks.min * scale, p50: ticks.p50 * scale, p90: ticks.p90 * scale,
                                         p99: ticks.p99 * scale, p999: ticks.p999 * scale, max: ticks.max * scale,
                                         mean: mean * scale)
        var log2: [Log2Bucket] = []
        if let first = tally.log2Counts.firstIndex(where: { $0 > 0 }),
           let last = tally.log2Counts.lastIndex(where: { $0 > 0 }) {
            for slot in first...last {
                let low: UInt64 = slot == 0 ? 0 : 1 << UInt64(slot - 1)
                let high: UInt64 = slot == 0 ? 1 : (slot == 64 ? .max : 1 << UInt64(slot))
                log2.append(Log2Bucket(lowNs: low, highNs: high, count: tally.log2Counts[slot]))
            }
        }
        self.init(reason: reason, group: group, count: count,
                  shareOfExits: totalExits == 0 ? 0 : Double(count) / Double(totalExits),
                  shareOfTime: totalTicks == 0 ? 0 : Double(tally.sumTicks) / Double(totalTicks),
                  totalTicks: tally.sumTicks, ticks: ticks, nanoseconds: nanoseconds,
                  log2Histogram: log2, histogram: distribution)
    }
}

extension ReportRow {
    /// Most hypervisor time first; ties by count, then by name, so output order is deterministic.
    static func heaviestFirst(_ a: ReportRow, _ b: ReportRow) -> Bool {
        if a.totalTicks != b.totalTicks { return a.totalTicks > b.totalTicks }
        if a.count != b.count { return a.count > b.count }
        if a.reason != b.reason { return a.reason < b.reason }
        return (a.group ?? "") < (b.group ?? "")
    }
}

/// Runs the report analysis over in-memory events (tests; the file path uses the same builder).
public func makeReport<Events: Sequence<TimedEvent>>(events: Events, clockFrequency: UInt64, cpuCount: Int = 1,
                                                     grouping: ReportGrouping = .reason, source: String? = nil) -> ExitReport {
    var pairer = ExitPairer(sink: ReportBuilder(clockFrequency: clockFrequency, grouping: grouping), cpuCount: cpuCount)
    pairer.consume(events)
    pairer.finish()
    return pairer.sink.makeReport(pairing: pairer.diagnostics, firstTimestamp: pairer.firstTimestamp,
                                  lastTimestamp: pairer.lastTimestamp, cpuCount: pairer.cpuCount, source: source)
}

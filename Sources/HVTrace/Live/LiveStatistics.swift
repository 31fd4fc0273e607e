// What `hvtrace top` shows, accumulated while a guest runs: per exit group, exits and hypervisor
// time since the start and in the current interval, and the interval's latency distribution
// (log-linear, mergeable, fixed size). Every grouping of `report --by` is kept at once, so
// switching the view's grouping is instant; each keeps at most `ReportGrouping.maximumGroups`
// groups per reason (later ones go to `(other)`, as in the report).

/// One group's counters.
public struct LiveGroup: Sendable {
    public var reason: ExitReason
    public var label: String
    public var totalExits: UInt64 = 0
    public var totalTicks: UInt64 = 0
    public var intervalExits: UInt64 = 0
    public var intervalTicks: UInt64 = 0
    public var intervalLatencies = LogLinearHistogram()
}

/// A row of the live view, figures of the last interval (rates per wall-clock second).
public struct LiveRow: Equatable, Sendable {
    public var reason: String
    /// The `--by` label (empty when grouping by reason).
    public var group: String
    public var exitsPerSecond: Double
    public var intervalExits: UInt64
    public var totalExits: UInt64
    public var p50Nanoseconds: Double
    public var p99Nanoseconds: Double
    public var maxNanoseconds: Double
    /// Share of the interval's hypervisor time, 0…1.
    public var shareOfTime: Double
}

/// The column a live view sorts by.
public enum LiveSort: String, CaseIterable, Sendable {
    case rate, total, p99, time

    public var next: LiveSort { LiveSort.allCases[(LiveSort.allCases.firstIndex(of: self)! + 1) % LiveSort.allCases.count] }
}

/// An `ExitSink` that keeps the live view's counters for every grouping.
public struct LiveStatistics: ExitSink {
    public let clockFrequency: UInt64
    /// groups[grouping] maps a (reason, group key) to an index in `rows[grouping]`.
    var index: [ReportGrouping: [GroupKey: Int]] = [:]
    var rows: [ReportGrouping: [LiveGroup]] = [:]
    var groupsPerReason: [ReportGrouping: [ExitReason: Int]] = [:]
    public private(set) var totalExits: UInt64 = 0
    public private(set) var intervalExits: UInt64 = 0
    public private(set) var totalLostEvents: UInt64 = 0
    public private(set) var intervalLostEvents: UInt64 = 0
    public private(set) var totalMarkers: UInt64 = 0

    struct GroupKey: Hashable {
        var reason: ExitReason
        var key: UInt64
    }

    public init(clockFrequency: UInt64) {
        self.clockFrequency = max(1, clockFrequency)
        for grouping in ReportGrouping.allCases {
            index[grouping] = [:]
            rows[grouping] = []
            groupsPerReason[grouping] = [:]
        }
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        totalExits &+= 1
        intervalExits &+= 1
        for grouping in ReportGrouping.allCases {
            var key = GroupKey(reason: exit.reason, key: grouping.key(of: exit))
            var slot = index[grouping]![key]
            if slot == nil {
                if groupsPerReason[grouping]![exit.reason, default: 0] >= ReportGrouping.maximumGroups {
                    key.key = ReportGrouping.otherKey
                    slot = index[grouping]![key]
                }
                if slot == nil {
                    slot = rows[grouping]!.count
                    index[grouping]![key] = slot
                    groupsPerReason[grouping]![exit.reason, default: 0] += 1
                    rows[grouping]!.append(LiveGroup(reason: exit.reason,
                                                     label: grouping == .reason ? "" : grouping.label(ofKey: key.key)))
                }
            }
            rows[grouping]![slot!].totalExits &+= 1
            rows[grouping]![slot!].totalTicks.addSaturating(exit.latency)
            rows[grouping]![slot!].intervalExits &+= 1
            rows[grouping]![slot!].intervalTicks.addSaturating(exit.latency)
            rows[grouping]![slot!].intervalLatencies.record(exit.latency)
        }
    }

    public mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64) {
        totalLostEvents.addSaturating(count)
        intervalLostEvents.addSaturating(count)
    }

    public mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64) { totalMarkers &+= 1 }

    /// The rows of the interval that just ended (`seconds` of wall-clock time) in `grouping`,
    /// sorted; then starts the next interval for every grouping.
    public mutating func closeInterval(seconds: Double, grouping: ReportGrouping, sort: LiveSort) -> [LiveRow] {
        let scale = 1e9 / Double(clockFrequency)
        let groups = rows[grouping]!
        let intervalTicks = groups.map(\.intervalTicks).saturatingSum()
        var result = groups.map { group in
            LiveRow(reason: group.reason.name, group: group.label,
                    exitsPerSecond: seconds > 0 ? Double(group.intervalExits) / seconds : 0,
                    intervalExits: group.intervalExits, totalExits: group.totalExits,
                    p50Nanoseconds: Double(group.intervalLatencies.value(at: .p50)) * scale,
                    p99Nanoseconds: Double(group.intervalLatencies.value(at: .p99)) * scale,
                    maxNanoseconds: Double(group.intervalLatencies.maximum) * scale,
                    shareOfTime: intervalTicks == 0 ? 0 : Double(group.intervalTicks) / Double(intervalTicks))
        }
        func key(_ row: LiveRow) -> Double {
            switch sort {
            case .rate: return row.exitsPerSecond
            case .total: return Double(row.totalExits)
            case .p99: return row.p99Nanoseconds
            case .time: return row.shareOfTime
            }
        }
        result.sort { key($0) != key($1) ? key($0) > key($1) : ($0.totalExits != $1.totalExits ? $0.totalExits > $1.totalExits : ($0.reason, $0.group) < ($1.reason, $1.group)) }
        for grouping in ReportGrouping.allCases {
            for slot in rows[grouping]!.indices {
                rows[grouping]![slot].intervalExits = 0
                rows[grouping]![slot].intervalTicks = 0
                rows[grouping]![slot].intervalLatencies = LogLinearHistogram()
            }
        }
        intervalExits = 0
        intervalLostEvents = 0
        return result
    }
}

// Exits over time: per physical CPU and per time bucket, how many exits began, how much of the
// bucket the CPU spent in the hypervisor, the latency percentiles of those exits, lost events and
// guest markers. Bursts and stalls show up as tall or empty buckets.
//
// The trace's length is not known while it streams, so the buckets adapt: they start one tick
// wide and double (adjacent pairs merge, every figure is a sum) whenever the trace outgrows
// `maximumBuckets`. Latencies go into a small log-linear histogram per bucket (16 steps per power
// of two: a percentile is at most 6.25 % above the exact sample), which merges by addition too.

/// A mergeable latency histogram of fixed small size: values below 16 exactly, above that 16
/// linear steps per power of two.
public struct LogLinearHistogram: Equatable, Sendable {
    /// Empty until the first sample (most buckets of a sparse timeline stay empty).
    public private(set) var counts: [UInt32] = []
    public private(set) var total: UInt64 = 0
    public private(set) var maximum: UInt64 = 0

    public static let slotCount = 16 + 60 * 16

    public init() {}

    @inline(__always)
    static func slot(_ value: UInt64) -> Int {
        if value < 16 { return Int(value) }
        let octave = 63 - value.leadingZeroBitCount
        return 16 + (octave - 4) * 16 + Int((value >> UInt64(octave - 4)) & 15)
    }

    /// The largest value that falls in `slot`.
    static func highestValue(ofSlot slot: Int) -> UInt64 {
        if slot < 16 { return UInt64(slot) }
        let octave = (slot - 16) / 16 + 4, step = UInt64((slot - 16) % 16)
        let width = UInt64(1) << UInt64(octave - 4)
        let low = (UInt64(1) << UInt64(octave)) + step * width
        return low &+ (width - 1)
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        if _slowPath(counts.isEmpty) { counts = Array(repeating: 0, count: Self.slotCount) }
        counts[Self.slot(value)] &+= 1
        total &+= 1
        if value > maximum { maximum = value }
    }

    public mutating func add(_ other: LogLinearHistogram) {
        guard !other.counts.isEmpty else { return }
        if counts.isEmpty { counts = Array(repeating: 0, count: Self.slotCount) }
        for slot in counts.indices { counts[slot] &+= other.counts[slot] }
        total &+= other.total
        maximum = max(maximum, other.maximum)
    }

    /// The nearest-rank percentile (the slot's highest value, never above the largest sample); 0 when empty.
    public func value(at percentile: ReportPercentile) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = percentile.rank(count: total)
        var seen: UInt64 = 0
        for (slot, count) in counts.enumerated() where count > 0 {
            seen &+= UInt64(count)
            if seen >= rank { return min(Self.highestValue(ofSlot: slot), maximum) }
        }
        return maximum
    }
}

/// One time bucket of one CPU.
public struct TimelineBucket: Equatable, Sendable {
    /// Exits that began in the bucket (and paired).
    public var exits: UInt64 = 0
    /// Ticks of the bucket the CPU spent inside paired exits (long exits are split across buckets).
    public var hypervisorTicks: UInt64 = 0
    /// Events the producer reported lost in the bucket.
    public var lostEvents: UInt64 = 0
    /// Guest markers in the bucket.
    public var markers: UInt64 = 0
    /// Latencies of the exits that began in the bucket (ticks).
    public var latencies = LogLinearHistogram()

    public init() {}

    mutating func add(_ other: TimelineBucket) {
        exits &+= other.exits
        hypervisorTicks &+= other.hypervisorTicks
        lostEvents &+= other.lostEvents
        markers &+= other.markers
        latencies.add(other.latencies)
    }
}

/// Buckets per CPU sharing one time axis: bucket `i` covers `[origin + i·bucketTicks, origin + (i+1)·bucketTicks)`.
public struct Timeline: Equatable, Sendable {
    public var clockFrequency: UInt64
    public var origin: UInt64 = 0
    public var bucketTicks: UInt64 = 1
    /// `cpus[cpu][bucket]`; every CPU has `bucketCount` buckets.
    public var cpus: [[TimelineBucket]] = []

    public var bucketCount: Int { cpus.map(\.count).max() ?? 0 }
    public var bucketSeconds: Double { Double(bucketTicks) / Double(max(1, clockFrequency)) }

    /// Every CPU's buckets added up.
    public var allCPUs: [TimelineBucket] {
        var total = Array(repeating: TimelineBucket(), count: bucketCount)
        for buckets in cpus { for (index, bucket) in buckets.enumerated() { total[index].add(bucket) } }
        return total
    }
}

/// An `ExitSink` that builds a `Timeline` of at most `maximumBuckets` buckets.
public struct TimelineBuilder: ExitSink {
    public private(set) var timeline: Timeline
    public let maximumBuckets: Int
    var started = false

    public init(clockFrequency: UInt64, cpuCount: Int, maximumBuckets: Int = 512) {
        timeline = Timeline(clockFrequency: max(1, clockFrequency))
        timeline.cpus = Array(repeating: [], count: max(1, cpuCount))
        self.maximumBuckets = max(2, maximumBuckets)
    }

    /// The bucket index of `timestamp` on `cpu`, after widening or extending the axis to hold it.
    @inline(__always)
    mutating func bucket(cpu: Int, at timestamp: UInt64) -> Int {
        if _slowPath(cpu >= timeline.cpus.count) {
            timeline.cpus += Array(repeating: [], count: cpu + 1 - timeline.cpus.count)
        }
        if _slowPath(!started) {
            started = true
            timeline.origin = timestamp
        }
        while timestamp < timeline.origin { prepend(for: timestamp) }
        var index = (timestamp - timeline.origin) / timeline.bucketTicks
        while index >= UInt64(maximumBuckets) {
            widen()
            index = (timestamp - timeline.origin) / timeline.bucketTicks
        }
        if _slowPath(Int(index) >= timeline.cpus[cpu].count) { extend(to: Int(index) + 1) }
        return Int(index)
    }

    /// Every CPU gets at least `count` buckets.
    mutating func extend(to count: Int) {
        for cpu in timeline.cpus.indices where timeline.cpus[cpu].count < count {
            timeline.cpus[cpu] += Array(repeating: TimelineBucket(), count: count - timeline.cpus[cpu].count)
        }
    }

    /// Doubles the bucket width (origin aligned to the new width), merging buckets in pairs.
    mutating func widen() {
        let width = timeline.bucketTicks &* 2
        let origin = timeline.origin / width * width
        for cpu in timeline.cpus.indices {
            var merged: [TimelineBucket] = []
            for (index, bucket) in timeline.cpus[cpu].enumerated() {
                let target = Int((timeline.origin + UInt64(index) * timeline.bucketTicks - origin) / width)
                if target >= merged.count { merged += Array(repeating: TimelineBucket(), count: target + 1 - merged.count) }
                merged[target].add(bucket)
            }
            timeline.cpus[cpu] = merged
        }
        timeline.bucketTicks = width
        timeline.origin = origin
    }

    /// Moves the origin back to hold `timestamp` (a CPU whose pages come later started earlier).
    mutating func prepend(for timestamp: UInt64) {
        let origin = timestamp / timeline.bucketTicks * timeline.bucketTicks
        let shift = Int((timeline.origin - origin) / timeline.bucketTicks)
        if timeline.cpus.contains(where: { $0.count + shift > maximumBuckets }) || shift >= maximumBuckets {
            widen()
            return
        }
        for cpu in timeline.cpus.indices where !timeline.cpus[cpu].isEmpty {
            timeline.cpus[cpu].insert(contentsOf: Array(repeating: TimelineBucket(), count: shift), at: 0)
        }
        timeline.origin = origin
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let cpu = Int(exit.cpu)
        // Fitting one end may widen or shift the axis; once both fit, neither call changes it.
        _ = bucket(cpu: cpu, at: returnTimestamp)
        let start = bucket(cpu: cpu, at: exit.entryTimestamp)
        let last = bucket(cpu: cpu, at: returnTimestamp)
        timeline.cpus[cpu][start].exits &+= 1
        timeline.cpus[cpu][start].latencies.record(exit.latency)
        if start == last {
            timeline.cpus[cpu][start].hypervisorTicks &+= exit.latency
            return
        }
        var time = exit.entryTimestamp
        for index in start...last {
            let end = min(returnTimestamp, timeline.origin + UInt64(index + 1) * timeline.bucketTicks)
            timeline.cpus[cpu][index].hypervisorTicks &+= end - time
            time = end
        }
    }

    public mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64) {
        let index = bucket(cpu: cpu, at: timestamp)
        timeline.cpus[cpu][index].lostEvents &+= count
    }

    public mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64) {
        let index = bucket(cpu: cpu, at: timestamp)
        timeline.cpus[cpu][index].markers &+= 1
    }
}

// Latency statistics for one group of exits, kept in constant memory: an HdrHistogram (3 significant
// digits) for percentiles, exact count/sum/min/max, and exact log2 buckets of nanoseconds for the
// text histogram. No sample is kept.

import Histogram

/// Percentiles every report shows, in thousandths (so ranks are computed with exact integers).
public enum ReportPercentile: Int, CaseIterable, Sendable {
    case p50 = 500, p90 = 900, p99 = 990, p999 = 999

    public var label: String {
        switch self {
        case .p50: return "p50"
        case .p90: return "p90"
        case .p99: return "p99"
        case .p999: return "p99.9"
        }
    }

    /// The 1-based nearest rank of this percentile among `count` sorted samples: ⌈q·n⌉, at least 1.
    @inline(__always)
    public func rank(count: UInt64) -> UInt64 {
        // ⌈q·n/1000⌉ split as q·⌊n/1000⌋ + ⌈q·(n mod 1000)/1000⌉ so no count can overflow.
        max(1, UInt64(rawValue) * (count / 1000) + (UInt64(rawValue) * (count % 1000) + 999) / 1000)
    }
}

/// A histogram as (value, count) pairs in increasing value order, where `value` is the highest value
/// the bucket stands for, plus the samples above the histogram's range. Built from a live
/// `LatencyAccumulator` or read back from a JSON report: percentiles and the statistical tests in
/// `compare` use only this, so a trace and its saved summary give the same numbers.
public struct BucketedDistribution: Equatable, Sendable, Codable {
    public var buckets: [Bucket]
    /// Samples larger than the histogram could hold; they rank above every bucket, at `max`.
    public var overflowCount: UInt64
    /// The exact largest sample (bucket values are capped to it).
    public var max: UInt64

    public struct Bucket: Equatable, Sendable, Codable {
        public var value: UInt64
        public var count: UInt64
        public init(value: UInt64, count: UInt64) {
            self.value = value
            self.count = count
        }
    }

    public init(buckets: [Bucket], overflowCount: UInt64, max: UInt64) {
        self.buckets = buckets
        self.overflowCount = overflowCount
        self.max = max
    }

    public var totalCount: UInt64 { buckets.reduce(overflowCount) { $0 &+ $1.count } }

    /// The value at 1-based `rank` (nearest-rank method); `max` for ranks among the overflow.
    public func value(atRank rank: UInt64) -> UInt64 {
        var seen: UInt64 = 0
        for bucket in buckets {
            seen &+= bucket.count
            if seen >= rank { return Swift.min(bucket.value, max) }
        }
        return max
    }

    public func value(at percentile: ReportPercentile) -> UInt64 {
        value(atRank: percentile.rank(count: totalCount))
    }
}

/// Accumulates one group's latencies (ticks). Memory is fixed by the histogram's range.
public struct LatencyAccumulator {
    public private(set) var histogram: Histogram<UInt64>
    public private(set) var count: UInt64 = 0
    /// Sum of the latencies, saturating at `UInt64.max` (see `sumSaturated`).
    public private(set) var sumTicks: UInt64 = 0
    /// The latencies add up to more than 64 bits (impossible exits: a corrupt timestamp).
    public private(set) var sumSaturated = false
    public private(set) var minTicks: UInt64 = .max
    public private(set) var maxTicks: UInt64 = 0
    /// Latencies above the histogram's `highestTrackableValue`: counted here, ranked at the top.
    public private(set) var overflowCount: UInt64 = 0
    /// Exact counts of latencies in nanoseconds by power of two: slot 0 holds 0 ns, slot k ≥ 1 holds
    /// [2^(k−1), 2^k) ns.
    public private(set) var log2Counts: [UInt64]
    let nanosecondsPerTick: Double

    /// `highestTrackableTicks` bounds the histogram (and its memory, about 8 bytes per 1/1024 of each
    /// power of two up to it).
    public init(highestTrackableTicks: UInt64, nanosecondsPerTick: Double) {
        histogram = Histogram<UInt64>(highestTrackableValue: Swift.max(highestTrackableTicks, 4096),
                                      numberOfSignificantValueDigits: .three)
        log2Counts = Array(repeating: 0, count: 65)
        self.nanosecondsPerTick = nanosecondsPerTick
    }

    @inline(__always)
    public mutating func record(_ ticks: UInt64) {
        count &+= 1
        if _slowPath(sumTicks.addSaturating(ticks)) { sumSaturated = true }
        if ticks < minTicks { minTicks = ticks }
        if ticks > maxTicks { maxTicks = ticks }
        if _slowPath(!histogram.record(ticks)) { overflowCount &+= 1 }
        // Saturates: a slow clock (1 Hz) and a huge latency exceed UInt64 nanoseconds.
        let exact = Double(ticks) * nanosecondsPerTick
        let nanoseconds = exact < 18_446_744_073_709_551_615.0 ? UInt64(exact) : .max
        log2Counts[64 - nanoseconds.leadingZeroBitCount] &+= 1
    }

    /// The histogram's recorded buckets plus the overflow, for percentiles and tests.
    public var distribution: BucketedDistribution {
        var buckets: [BucketedDistribution.Bucket] = []
        for item in histogram.recordedValues() {
            buckets.append(.init(value: item.value, count: UInt64(item.count)))
        }
        return BucketedDistribution(buckets: buckets, overflowCount: overflowCount, max: count == 0 ? 0 : maxTicks)
    }
}

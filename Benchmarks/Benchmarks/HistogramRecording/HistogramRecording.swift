// Recording latencies into a report group's accumulator (HdrHistogram with 3 significant digits
// plus exact count/sum/min/max and log2 nanosecond buckets): the per-exit cost of `report`.

import Benchmark
import HVTrace

/// Latencies recorded per iteration (scaled by the benchmark's scaling factor).
let latencies: [UInt64] = {
    // A fixed xorshift sequence shaped like exit latencies: mostly 30...3000 ticks, a long tail.
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<4096).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let magnitude = state % 100 < 95 ? 3000 : 3_000_000
        return 30 + state % UInt64(magnitude)
    }
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .mega,
        maxDuration: .seconds(5),
        thresholds: [.wallClock: .init(relative: [.p90: 15.0])]
    )

    // 1 M recordings per iteration at 62.5 MHz (QEMU virt's counter), one minute trackable.
    Benchmark("LatencyAccumulator.record (1M)") { benchmark in
        var accumulator = LatencyAccumulator(highestTrackableTicks: 62_500_000 * 60, nanosecondsPerTick: 16)
        for index in benchmark.scaledIterations {
            accumulator.record(latencies[index & 4095])
        }
        blackHole(accumulator.count)
        blackHole(accumulator.distribution.buckets.count)
    }
}

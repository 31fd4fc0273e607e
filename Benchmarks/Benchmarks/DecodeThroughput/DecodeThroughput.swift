// Decode throughput: events per second through the per-page visitor API (what `report` and `flame`
// use) and through the merged, time-ordered `EventStream` (what `dump` uses). The trace is generated
// once per run into a temporary directory with the library's own synthetic generator.

import Benchmark
import Foundation
import HVTrace

/// Events in the benchmark trace; each iteration decodes all of them.
let traceEvents = 2_000_000

/// A synthetic trace written once per process (default mix, 2 CPUs, seed 1).
let tracePath: String = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-bench-\(getpid())")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("decode.hvt").path
    var options = SyntheticTraceOptions()
    options.events = traceEvents
    _ = try! SyntheticTraceGenerator.generate(to: path, options: options)
    return path
}()

/// Counts records and folds their timestamps, so the decoder cannot be optimised away.
struct CountingVisitor: RecordVisitor {
    var events = 0
    var checksum: UInt64 = 0

    @inline(__always)
    mutating func visit(_ event: TraceEvent, timestamp: UInt64) {
        events &+= 1
        checksum &+= timestamp
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 10,
        thresholds: [
            .wallClock: .init(relative: [.p90: 15.0]),
            .peakMemoryResident: .init(relative: [.p90: 25.0]),
        ]
    )

    // One iteration = every page of the trace decoded into a visitor (events/s = 2 M / wall time).
    Benchmark("Per-page visitor (2M events)") { benchmark in
        let source = try PageSource(path: tracePath)
        var visitor = CountingVisitor()
        benchmark.startMeasurement()
        while let page = source.next() { _ = source.decode(page, into: &visitor) }
        benchmark.stopMeasurement()
        precondition(visitor.events >= traceEvents)
        blackHole(visitor.checksum)
    }

    // The merged stream: a k-way merge over the CPUs' pages, one `TimedEvent` at a time.
    Benchmark("Merged EventStream (2M events)") { benchmark in
        let stream = try EventStream(path: tracePath)
        var events = 0
        var checksum: UInt64 = 0
        benchmark.startMeasurement()
        while let event = try stream.next() {
            events &+= 1
            checksum &+= event.timestamp
        }
        benchmark.stopMeasurement()
        precondition(events >= traceEvents)
        blackHole(checksum)
    }
}

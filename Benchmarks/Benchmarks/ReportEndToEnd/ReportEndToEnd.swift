// `hvtrace report` end to end, as the library runs it: open, decompress, decode, pair, histograms,
// then render the text report. The synthetic trace is generated once per process.

import Benchmark
import Foundation
import HVTrace

/// Events in the benchmark trace.
let traceEvents = 2_000_000

let tracePath: String = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-bench-\(getpid())")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("report.hvt").path
    var options = SyntheticTraceOptions()
    options.events = traceEvents
    _ = try! SyntheticTraceGenerator.generate(to: path, options: options)
    return path
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 10,
        thresholds: [
            .wallClock: .init(relative: [.p90: 15.0]),
            .peakMemoryResident: .init(relative: [.p90: 25.0]),
            .mallocCountTotal: .init(relative: [.p90: 10.0]),
        ]
    )

    Benchmark("report text (2M events)") { _ in
        let report = try TraceAnalysis.report(path: tracePath)
        blackHole(try report.rendered(as: .text))
    }

    Benchmark("report --by hvc json (2M events)") { _ in
        let report = try TraceAnalysis.report(path: tracePath, grouping: .hvc)
        blackHole(try report.rendered(as: .json))
    }

    Benchmark("flame folded (2M events)") { _ in
        let flame = try TraceAnalysis.flameGraph(path: tracePath)
        blackHole(flame.builder.graph.folded())
    }
}

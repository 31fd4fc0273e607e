// The .hvt container's zstd stream: writing drained pages (compression at the default level) and
// reading every chunk back (decompression plus chunk framing), in bytes of uncompressed stream.

import Benchmark
import Foundation
import HVTrace

let directory: URL = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-bench-\(getpid())")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}()

/// A 2 M-event synthetic trace, and its pages held in memory for the write benchmark.
let source: (path: String, header: TraceFileHeader, pages: [(cpu: UInt16, sequence: UInt64, bytes: [UInt8])]) = {
    let path = directory.appendingPathComponent("zstd.hvt").path
    var options = SyntheticTraceOptions()
    options.events = 2_000_000
    _ = try! SyntheticTraceGenerator.generate(to: path, options: options)
    let pages = try! PageSource(path: path)
    var copies: [(cpu: UInt16, sequence: UInt64, bytes: [UInt8])] = []
    while let page = pages.next() { copies.append((page.cpu, page.sequence, Array(page.bytes))) }
    return (path, pages.header, copies)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 10,
        thresholds: [.wallClock: .init(relative: [.p90: 15.0])]
    )

    // Every chunk of the file through the reader's fixed window (≈ 7.7 MB of stream per iteration).
    Benchmark("read chunks (2M events)") { benchmark in
        let reader = try TraceFileReader(path: source.path)
        var bytes = 0
        benchmark.startMeasurement()
        while let chunk = reader.nextChunk() { bytes &+= chunk.payload.count }
        benchmark.stopMeasurement()
        blackHole(bytes)
    }

    // The same pages written back at the default compression level.
    Benchmark("write pages, level \(TraceFileWriter.defaultCompressionLevel) (2M events)") { benchmark in
        let path = directory.appendingPathComponent("write.hvt").path
        let writer = try TraceFileWriter(path: path, header: source.header)
        for page in source.pages {
            try page.bytes.withUnsafeBytes { try writer.writePage($0, cpu: page.cpu, sequence: page.sequence) }
        }
        try writer.close()
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: path)
    }
}

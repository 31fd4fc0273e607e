// swift-tools-version: 6.1
// Host-tool benchmarks for hvtrace (issue 7 §4), one suite per folder under Benchmarks/.
// Run: cd Benchmarks && swift package benchmark
// Check against the committed thresholds: swift package benchmark thresholds check
// Update them on purpose (own commit, with before/after): swift package --allow-writing-to-package-directory benchmark thresholds update

import PackageDescription

let package = Package(
    name: "hvtrace-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named so the identity does not depend on the checkout folder's name.
        .package(name: "hvtrace", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Pages decoded per second: the per-page visitor API and the merged, time-ordered stream.
        benchmark("DecodeThroughput"),
        // `hvtrace report` end to end on a synthetic trace (decompress, decode, pair, histograms, render).
        benchmark("ReportEndToEnd"),
        // Latency accumulator recording (HdrHistogram + exact log2 buckets).
        benchmark("HistogramRecording"),
        // The .hvt container's zstd stream: writing pages and reading chunks back.
        benchmark("ZstdThroughput"),
    ]
)

/// One benchmark executable in `Benchmarks/<name>/`, run by package-benchmark's plugin.
func benchmark(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "HVTrace", package: "hvtrace"),
        ],
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

// swift-tools-version: 6.1
// hvtrace: the trace format shared with the hypervisor, the host library, and the CLI.

import PackageDescription

let package = Package(
    name: "hvtrace",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hvtrace", targets: ["hvtrace"]),
        .library(name: "HVTrace", targets: ["HVTrace"]),
        .library(name: "TraceFormat", targets: ["TraceFormat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // The wire format: Foundation-free, Embedded-safe; the hypervisor compiles these same files.
        .target(name: "TraceFormat", exclude: ["FORMAT.md"]),
        // libzstd's streaming API.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Reading and writing .hvt files, decoding, recording and the analyses.
        .target(
            name: "HVTrace",
            dependencies: [
                "TraceFormat", "CZstd", "HypervisorModel",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            exclude: ["Analysis/REPORT-SCHEMA.md", "Recording/RECORDING.md"]
        ),
        // The command-line tool, one subcommand per file.
        .executableTarget(
            name: "hvtrace",
            dependencies: ["HVTrace", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TraceFormatTests", dependencies: ["TraceFormat"]),
        // Boots the hypervisor in QEMU (skipped without qemu-system-aarch64): trace counts,
        // determinism, overflow accounting, flight recorder, the probe's shell test, and Linux with 2 vCPUs.
        .testTarget(name: "IntegrationTests", dependencies: ["TraceFormat", "HVTrace", "HypervisorModel"]),
        // Analyses (pairing, report, flame, compare) on event sequences of known distributions.
        .testTarget(name: "AnalysisTests", dependencies: ["HVTrace"]),
        // The hypervisor core's pure logic (ESR decoding, stage-2 descriptors, MMIO decode, PSCI
        // checks): the same files the Embedded hypervisor compiles, built for host unit tests.
        .target(name: "HypervisorModel", dependencies: ["TraceFormat"], path: "hypervisor/core/model"),
        .testTarget(name: "HypervisorModelTests", dependencies: ["HypervisorModel", "TraceFormat"]),
        // The .hvt container, decoder, diagnostics, synthetic traces and dump against fixtures.
        .testTarget(name: "HVTraceTests", dependencies: ["HVTrace", "CZstd", "hvtrace"]),
        // Exports, HTML/SVG views and the live view, checked with real readers (DuckDB, hdrhistogram,
        // jsonschema, headless chromium, tmux: scripts/setup-test-readers.sh installs them).
        .testTarget(name: "ViewTests", dependencies: ["HVTrace", "hvtrace"], exclude: ["Readers"]),
        // Live recording: ring consumer, drain loop, RAM file, QEMU session (stand-in QEMU), snapshot.
        .testTarget(name: "RecordingTests", dependencies: ["HVTrace", "TraceFormat", "HypervisorModel"]),
    ]
)

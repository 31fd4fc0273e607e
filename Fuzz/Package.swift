// swift-tools-version: 6.1
// The libFuzzer target for the trace decoder and the .hvt reader. A package of its own so that the
// main package's `swift build` / `swift test` never build it; run it with `scripts/fuzz.sh`, which
// builds it with ASan and libFuzzer's edge/compare coverage (see README there).

import PackageDescription

let package = Package(
    name: "HVTraceFuzz",
    dependencies: [.package(name: "hvtrace", path: "..")],
    targets: [
        .executableTarget(
            name: "HVTraceFuzz",
            dependencies: [
                .product(name: "HVTrace", package: "hvtrace"),
                .product(name: "TraceFormat", package: "hvtrace"),
            ]
        ),
    ]
)

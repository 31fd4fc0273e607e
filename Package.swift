// swift-tools-version: 6.0
// Minimal package for the guests branch: the hypervisor's pure model code and its host tests.
// The lead merges these targets into the main Package.swift.
import PackageDescription

let package = Package(
    name: "hvtrace",
    targets: [
        // Pure, Embedded-safe Swift shared by the hypervisor image and host tests
        // (device trees, vGIC distributor model, ...).
        .target(
            name: "HypervisorModel",
            path: "hypervisor/core/model"
        ),
        .testTarget(
            name: "HypervisorModelTests",
            dependencies: ["HypervisorModel"],
            path: "Tests/HypervisorModelTests"
        ),
    ]
)

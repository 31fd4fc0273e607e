// swift-tools-version: 6.0
// Minimal manifest from the hypervisor branch: the host-testable pure logic of the hypervisor
// core (hypervisor/core/model) and its unit tests. The lead merges this with the main manifest.
import PackageDescription

let package = Package(
  name: "hvtrace",
  targets: [
    // The same Swift files the Embedded hypervisor compiles, built for the host.
    .target(name: "HypervisorModel", path: "hypervisor/core/model"),
    .testTarget(name: "HypervisorModelTests", dependencies: ["HypervisorModel"]),
  ]
)

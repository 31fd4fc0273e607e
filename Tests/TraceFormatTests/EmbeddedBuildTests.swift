import Foundation
import Testing

/// The hypervisor compiles `Sources/TraceFormat` as Embedded Swift for bare-metal aarch64; this
/// runs that exact compile so a change that breaks it fails `swift test`.
struct EmbeddedBuildTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// swiftc next to the running toolchain, or on PATH.
    static var swiftc: String? {
        var candidates = ["/opt/swift/usr/bin/swiftc"]
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/swiftc")
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(.enabled(if: swiftc != nil, "swiftc not found: the Embedded Swift compile of TraceFormat cannot be checked here"))
    func traceFormatCompilesAsEmbeddedSwiftForBareMetalAArch64() throws {
        let sourceDirectory = Self.packageRoot.appendingPathComponent("Sources/TraceFormat")
        let sources = try FileManager.default.contentsOfDirectory(atPath: sourceDirectory.path)
            .filter { $0.hasSuffix(".swift") }.sorted().map { sourceDirectory.appendingPathComponent($0).path }
        #expect(sources.count >= 5)
        let object = FileManager.default.temporaryDirectory.appendingPathComponent("TraceFormat-embedded-\(getpid()).o")
        defer { try? FileManager.default.removeItem(at: object) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.swiftc!)
        process.arguments = ["-target", "aarch64-none-none-elf", "-enable-experimental-feature", "Embedded", "-wmo",
                             "-parse-as-library", "-c"] + sources + ["-module-name", "TraceFormat", "-o", object.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let diagnostics = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "swiftc failed:\n\(diagnostics)")
        #expect(FileManager.default.fileExists(atPath: object.path))
    }
}

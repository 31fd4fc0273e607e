import Foundation
import Testing

/// Helpers shared by the model tests: fixture paths and running `dtc`.
enum TestSupport {
    /// The repository root (this file is Tests/HypervisorModelTests/TestSupport.swift).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/Fixtures/good").appendingPathComponent(name)
    }

    static func readFixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixture(name)))
    }

    /// Whether `dtc` (device-tree-compiler) is installed.
    static let hasDTC: Bool = FileManager.default.isExecutableFile(atPath: "/usr/bin/dtc")

    /// Decompiles `blob` with `dtc -I dtb -O dts` and returns its output (stdout), failing the
    /// test on a non-zero exit or any warning on stderr.
    static func decompile(_ blob: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hvtrace-dtb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("guest.dtb")
        try Data(blob).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        process.arguments = ["-I", "dtb", "-O", "dts", file.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderrText = String(decoding: errorData, as: UTF8.self)
        #expect(process.terminationStatus == 0, "dtc failed: \(stderrText)")
        #expect(stderrText.isEmpty, "dtc warnings: \(stderrText)")
        return String(decoding: outputData, as: UTF8.self)
    }
}

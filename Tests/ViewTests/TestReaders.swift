// The real readers the view tests check our output with, installed by scripts/setup.sh
// (scripts/setup-test-readers.sh): a Python environment in cache/test-readers with DuckDB,
// hdrhistogram and jsonschema, Debian's chromium and tmux. A test that needs one is skipped with
// a message when it is missing on a developer's machine; under CI (CI=true) it runs and fails,
// so a missing install step cannot hide behind a skip.

import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

enum TestReaders {
    static let python = repositoryRoot + "/cache/test-readers/bin/python3"
    static let readers = repositoryRoot + "/Tests/ViewTests/Readers"
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static var pythonReaders: Bool { FileManager.default.isExecutableFile(atPath: python) }
    /// Run the test when the reader is installed, or always under CI (where its absence is a failure).
    static var pythonOrCI: Bool { pythonReaders || inCI }
    static var chromiumOrCI: Bool { chromium != nil || inCI }
    static var tmuxOrCI: Bool { tmux != nil || inCI }
    static let missingPython: Comment = "test readers not installed (cache/test-readers): run scripts/setup-test-readers.sh"
    static let missingChromium: Comment = "chromium not installed: run scripts/setup-test-readers.sh"
    static let missingTmux: Comment = "tmux not installed: run scripts/setup-test-readers.sh"

    /// Runs a reader script and decodes the JSON it prints; a failing script is a test failure
    /// carrying its output.
    static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, json: Any) {
        guard pythonReaders else { throw ReaderFailure(description: "test readers not installed (cache/test-readers): run scripts/setup-test-readers.sh") }
        let (status, output, errors) = try runTool(python, [readers + "/" + script] + arguments, timeout: 120)
        guard let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) else {
            throw ReaderFailure(description: "\(script) printed no JSON (status \(status)):\n\(output)\n\(errors)")
        }
        return (status, json)
    }
}

struct ReaderFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `executable`, returns (status, stdout, stderr); killed after `timeout` seconds.
func runTool(_ executable: String, _ arguments: [String], timeout: Double, environment: [String: String] = [:])
    throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-tool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
    defer {
        try? outHandle.close()
        try? errHandle.close()
    }
    process.standardOutput = outHandle
    process.standardError = errHandle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning {
        if Date() > deadline {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ReaderFailure(description: "\(executable) \(arguments.joined(separator: " ")) timed out after \(timeout) s")
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    process.waitUntilExit()
    return (process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// A fresh directory for one test's files.
struct ScratchDirectory {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-views-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Traces the view tests read: the committed Linux boot, and fixtures with two CPUs and with loss.
let viewTraces = ["traces/linux-boot.hvt", "Tests/Fixtures/good/two-cpu-mixed.hvt", "Tests/Fixtures/good/forced-loss.hvt"]

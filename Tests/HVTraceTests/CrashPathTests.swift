import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// A recording cut short — the .hvt copied while it was still being written, or the writer killed
/// before `close()` — decodes up to its last complete page, says where it was cut, and the report
/// puts the loss on its first line.
struct CrashPathTests {
    /// A synthetic recording whose zstd stream is flushed after every chunk (as a recorder that
    /// expects to die flushes), with its complete event list.
    static func flushedRecording(_ directory: TemporaryDirectory) throws -> (bytes: [UInt8], events: Int, pages: Int) {
        let (path, bytes, stream) = try flushedSyntheticTrace(directory, name: "full.hvt", events: 3_000, pageSize: 512, seed: 8)
        let all = try #require(decodeAll(path))
        return (bytes, all.events.count, stream.pageChunkIndices.count)
    }

    @Test(arguments: [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.999])
    func recordingCutAtAnyPointReportsWhatCameBeforeAndWhere(fraction: Double) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (bytes, totalEvents, _) = try Self.flushedRecording(directory)
        let cut = Int(Double(bytes.count) * fraction)
        let path = directory.path("cut.hvt")
        writeFile(path, Array(bytes[0..<cut]))

        let decoded = try #require(decodeAll(path))
        #expect(decoded.events.count > 0 && decoded.events.count <= totalEvents)
        #expect(decoded.diagnostics[.truncatedFile] == 1)
        // Everything decoded is good data: no page was half-decoded into errors.
        #expect(!decoded.diagnostics.hasErrors)

        var warnings: [String] = []
        let report = try TraceAnalysis.report(path: path) { warnings.append($0) }
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("\(path): truncated_file: file ends at byte \(cut) ") == true)
        let firstLine = report.text().split(separator: "\n").first.map(String.init) ?? ""
        #expect(firstLine.hasPrefix("!!! INCOMPLETE TRACE:") && firstLine.contains("file TRUNCATED"))
        #expect(report.markdown().contains("**!!! INCOMPLETE TRACE:"))
    }

    /// The writer's temporary file as a crash leaves it: `flush()` after some pages, no `close()`.
    @Test func partialFileOfAWriterThatNeverClosedDecodesEveryFlushedPage() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let source = try PageSource(bytes: try Self.flushedRecording(directory).bytes, name: "full.hvt")
        var pages: [(cpu: UInt16, sequence: UInt64, bytes: [UInt8])] = []
        while let page = source.next() { pages.append((page.cpu, page.sequence, Array(page.bytes))) }

        let writer = try TraceFileWriter(path: directory.path("rec.hvt"), header: source.header)
        let flushedPages = pages.count / 2
        for page in pages[0..<flushedPages] {
            try page.bytes.withUnsafeBytes { try writer.writePage($0, cpu: page.cpu, sequence: page.sequence) }
        }
        try writer.flush()
        // Written but never flushed: still in the writer's buffers when it "dies".
        for page in pages[flushedPages...] {
            try page.bytes.withUnsafeBytes { try writer.writePage($0, cpu: page.cpu, sequence: page.sequence) }
        }
        let leftover = directory.path("leftover.hvt")
        try FileManager.default.copyItem(atPath: writer.temporaryPath, toPath: leftover)
        #expect(!FileManager.default.fileExists(atPath: directory.path("rec.hvt")))
        writer.discard()

        let decoded = try #require(decodeAll(leftover))
        #expect(decoded.diagnostics.pagesRead == UInt64(flushedPages))
        #expect(decoded.diagnostics[.truncatedFile] == 1)
        #expect(!decoded.diagnostics.hasErrors)
        let fileSize = UInt64(readFile(leftover).count)
        #expect(decoded.diagnostics.details(.truncatedFile).first?.hasPrefix("file ends at byte \(fileSize) ") == true)
    }

    /// A real crash: `hvtrace synth` killed with SIGKILL while writing. Nothing appears under the
    /// final name; the `.partial-PID` file either stops inside the header (a one-line error) or
    /// decodes up to its last complete page with the cut named.
    @Test func killedWriterLeavesAPartialFileThatDecodesUpToTheCut() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BadInputCommandTests.binary)
        process.arguments = ["synth", "--events", "50000000", "--level", "1", "-o", directory.path("big.hvt")]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until the temporary file holds at least a few compressed blocks, then kill.
        let deadline = Date().addingTimeInterval(60)
        var partial: String?
        while Date() < deadline {
            partial = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
                .first { $0.hasPrefix("big.hvt.partial-") }.map(directory.path)
            if let partial, let size = try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int, size > 1 << 20 { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: directory.path("big.hvt")))
        let leftover = try #require(partial)

        let decoded = try #require(decodeAll(leftover))
        #expect(decoded.events.count > 0)
        #expect(decoded.diagnostics[.truncatedFile] == 1)
        #expect(!decoded.diagnostics.hasErrors)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: leftover)[.size] as? Int)
        #expect(decoded.diagnostics.details(.truncatedFile).first?.hasPrefix("file ends at byte \(size) ") == true)
        var warnings: [String] = []
        let report = try TraceAnalysis.report(path: leftover) { warnings.append($0) }
        #expect(warnings.first?.contains("truncated_file: file ends at byte \(size) ") == true)
        #expect(report.lossBanner?.contains("file TRUNCATED") == true)
    }
}

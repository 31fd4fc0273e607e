import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// Inputs the fuzzer (`scripts/fuzz.sh`) found crashing, hanging or allocating without bound, kept
/// as `Tests/Fixtures/bad/fuzz-*.{hvt,page}` (made by `scripts/fuzz-reproducer.sh`). Each runs
/// the path the fuzzer ran — dump, report, flame for a file; the page and record decoders for a
/// page — and must give exactly its `.expected` text. Regenerate with
/// `HVTRACE_REGENERATE_FIXTURES=1 swift test --filter FuzzReproducerTests` and review the diff.
struct FuzzReproducerTests {
    static let folder = FixtureTests.root.appendingPathComponent("bad")

    static let reproducers: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasPrefix("fuzz-") && ($0.hasSuffix(".hvt") || $0.hasSuffix(".page")) }.sorted()
    }()

    /// What the fuzz harness's file path computes, as text.
    static func fileVerdict(_ path: String, name: String) -> String {
        let stream: EventStream
        do { stream = try EventStream(path: path) } catch {
            return "hvtrace: error: " + error.description.replacingOccurrences(of: path, with: name) + "\n"
        }
        var text = ""
        do {
            try stream.dump(path: name, options: TraceDumpOptions(limit: 20)) { text += $0 }
        } catch {
            text += "dump error: \(error.description)\n"
        }
        text += stream.diagnostics.rendered() + "\n"
        guard let report = try? TraceAnalysis.report(path: path),
              let flame = try? TraceAnalysis.flameGraph(path: path) else { return text + "analysis failed to open\n" }
        text += "--- report\n" + report.text().replacingOccurrences(of: path, with: name)
        text += "--- flame\n" + flame.builder.graph.tree() + flame.builder.graph.folded()
        return text
    }

    /// What the fuzz harness's page path computes, as text: shape byte, then page bytes.
    static func pageVerdict(_ bytes: [UInt8]) -> String {
        guard let shape = bytes.first else { return "empty input\n" }
        let pageSize = 1 << (8 + Int(shape & 7) + (shape & 8 != 0 ? 1 : 0))
        let cpuCount = 1 + Int(shape >> 4)
        var text = "page size \(pageSize), \(cpuCount) CPUs\n"
        Array(bytes.dropFirst()).withUnsafeBytes { body in
            do {
                var decoder = try PageDecoder(bytes: body, pageSize: pageSize, cpuCount: cpuCount)
                while let event = try decoder.next() { text += "\(event.timestamp) \(event.event)\n" }
                text += "end of page\n"
            } catch let error as LayoutError {
                text += "page rejected: \(error)\n"
            } catch {
                text += "record error: \(error)\n"
            }
        }
        return text
    }

    @Test(arguments: reproducers)
    func reproducerGivesItsExpectedText(_ file: String) throws {
        let path = Self.folder.appendingPathComponent(file).path
        let expectedPath = path.replacingOccurrences(of: file.hasSuffix(".hvt") ? ".hvt" : ".page", with: ".expected")
        let actual = file.hasSuffix(".hvt") ? Self.fileVerdict(path, name: file) : Self.pageVerdict(readFile(path))
        if FixtureTests.regenerate { try actual.write(toFile: expectedPath, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        #expect(actual == expected)
    }

    /// The catalogue is not empty, so the test above cannot pass vacuously.
    @Test func reproducersArePresent() {
        #expect(!Self.reproducers.isEmpty)
    }
}

import Foundation
import Testing
@testable import HVTrace

/// Damaged files never crash or hang the reader: every cut and many flipped bytes end in either a
/// typed error or diagnostics, with the events before the damage intact.
struct RobustnessTests {
    /// A small trace whose zstd stream is flushed at every chunk, so cuts expose every prefix.
    static func smallTrace(_ directory: TemporaryDirectory) throws -> (bytes: [UInt8], events: [TimedEvent]) {
        let (path, flushed, _) = try flushedSyntheticTrace(directory, name: "small.hvt", events: 600, pageSize: 256, seed: 3)
        return (flushed, try #require(decodeAll(path)).events)
    }

    @Test func everyTruncationPointDecodesAPrefixAndSaysWhere() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (bytes, all) = try Self.smallTrace(directory)
        let path = directory.path("cut.hvt")
        var sawPartial = false
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 400)) {
            writeFile(path, Array(bytes[0..<length]))
            do {
                let stream = try EventStream(path: path)
                var events: [TimedEvent] = []
                while let event = try stream.next() { events.append(event) }
                // Merged order of a prefix of pages: each CPU's events are a prefix of its full list.
                for cpu in UInt16(0)..<2 {
                    let mine = events.filter { $0.cpu == cpu }, full = all.filter { $0.cpu == cpu }
                    #expect(Array(full.prefix(mine.count)) == mine, "cut at \(length)")
                }
                #expect(stream.diagnostics[.truncatedFile] == 1, "cut at \(length)")
                #expect(stream.diagnostics.details(.truncatedFile).first?.contains("file ends at byte") == true)
                if !events.isEmpty && events.count < all.count { sawPartial = true }
            } catch {
                // Only header-level failures may throw.
                switch error.reason {
                case .empty, .truncatedHeader, .notZstd: break
                default: Issue.record("cut at \(length): unexpected \(error)")
                }
            }
        }
        #expect(sawPartial)
    }

    @Test func flippedCompressedBytesNeverCrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (bytes, _) = try Self.smallTrace(directory)
        let path = directory.path("flip.hvt")
        var random = Xoshiro256StarStar(seed: 99)
        for _ in 0..<300 {
            var damaged = bytes
            let position = Int(random.below(UInt64(bytes.count)))
            damaged[position] ^= UInt8(1 + random.below(255))
            writeFile(path, damaged)
            if let result = decodeAll(path) {
                #expect(result.diagnostics.eventsDecoded == UInt64(result.events.count))
            }
        }
    }

    @Test func flippedStreamBytesNeverCrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (bytes, _) = try Self.smallTrace(directory)
        let stream = HVTStream(file: bytes).bytes().stream
        let path = directory.path("flip.hvt")
        var random = Xoshiro256StarStar(seed: 5)
        for _ in 0..<300 {
            var damaged = stream
            let position = Int(random.below(UInt64(stream.count)))
            damaged[position] ^= UInt8(1 + random.below(255))
            writeFile(path, Zstd.compress(damaged, level: 1))
            _ = decodeAll(path)
        }
    }
}

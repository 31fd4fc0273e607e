import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// The .hvt as independent zstd frames with a seek index (format 1.1): the index describes every
/// frame exactly, a damaged frame costs only itself (counted to the event), a cut file loses at
/// most the frame being written, and `zstd -d` and 1.0 files still work.
struct FrameIndexTests {
    /// A 2-CPU synthetic trace in frames of 64 KiB of stream (about 17 k events each).
    static func framedTrace(_ directory: TemporaryDirectory, events: Int = 200_000, name: String = "framed.hvt") throws -> String {
        var options = SyntheticTraceOptions()
        options.events = events
        options.cpus = 2
        options.seed = 5
        options.frameTarget = 1 << 16
        let path = directory.path(name)
        _ = try SyntheticTraceGenerator.generate(to: path, options: options)
        return path
    }

    /// Every event of `path` in file order (per-page API), and the diagnostics.
    static func events(_ path: String) throws -> (events: [TimedEvent], diagnostics: DecodeDiagnostics) {
        let source = try PageSource(path: path)
        var events: [TimedEvent] = []
        source.forEachEvent { events.append($0) }
        return (events, source.diagnostics)
    }

    @Test func indexDescribesEveryFrameExactly() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory)
        let reader = try TraceFileReader(path: path)
        #expect(reader.frameListSource == .index)
        #expect(reader.frames.count >= 8)
        // A reader of each frame alone sees exactly what the index says of it.
        var total: UInt64 = 0
        for (number, frame) in reader.frames.enumerated() {
            let source = PageSource(reader: try TraceFileReader(sharing: reader, frames: [number]))
            var first = UInt64.max, last: UInt64 = 0, count: UInt64 = 0
            var ranges: [UInt16: (UInt64, UInt64)] = [:]
            while let page = source.next() {
                first = min(first, page.header.timestamp)
                let range = ranges[page.cpu] ?? (page.sequence, page.sequence)
                ranges[page.cpu] = (min(range.0, page.sequence), max(range.1, page.sequence))
                _ = source.forEachEvent(in: page) { event in
                    count += 1
                    last = max(last, event.timestamp)
                }
            }
            #expect(frame.isIndexed)
            #expect(count == frame.eventCount, "frame \(number)")
            #expect(source.pagesDelivered == UInt64(frame.pageCount))
            if count > 0 {
                #expect(first == frame.firstTimestamp && last == frame.lastTimestamp, "frame \(number)")
            }
            #expect(frame.sequences.count == ranges.count)
            for range in frame.sequences { #expect(ranges[range.cpu].map { $0 == (range.first, range.last) } == true) }
            #expect(!source.diagnostics.hasErrors)
            total += count
        }
        let all = try Self.events(path)
        #expect(UInt64(all.events.count) == total)
        #expect(all.diagnostics.reported.isEmpty)
        // Frames tile the file up to the index, which ends it.
        for (previous, next) in zip(reader.frames, reader.frames.dropFirst()) {
            #expect(previous.fileOffset + previous.compressedSize == next.fileOffset)
        }
    }

    @Test func standardZstdDecompressesTheWholeFile() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory, events: 50_000)
        let stream = Zstd.decompress(readFile(path))
        let parsed = HVTStream(file: readFile(path))
        #expect(stream.count == parsed.bytes().stream.count)
        #expect(parsed.chunks.last?.type == ChunkType.end.rawValue)
        #expect(parsed.chunks.filter { $0.type == ChunkType.frameStart.rawValue }.count == (try TraceFileReader(path: path)).frames.count - 1)
        if let zstd = ["/usr/bin/zstd", "/bin/zstd"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: zstd)
            process.arguments = ["-q", "-d", "-c", path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(Array(output) == stream)
        }
    }

    /// Flipping bytes inside one frame loses only that frame's events after the damage: the
    /// events of every other frame are decoded, and decoded + counted loss is the whole trace.
    @Test(arguments: [1, 4, 7])
    func corruptFrameLosesOnlyThatFrame(frameNumber: Int) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory)
        let clean = try Self.events(path)
        let frames = try TraceFileReader(path: path).frames
        let damaged = frames[frameNumber]
        var bytes = readFile(path)
        let middle = Int(damaged.fileOffset + damaged.compressedSize / 2)
        for offset in middle..<(middle + 32) { bytes[offset] ^= 0x5A }
        let damagedPath = directory.path("damaged.hvt")
        writeFile(damagedPath, bytes)

        let decoded = try Self.events(damagedPath)
        #expect(decoded.diagnostics[.corruptFrame] == 1)
        #expect(UInt64(decoded.events.count) + decoded.diagnostics[.corruptFrameEvents] == UInt64(clean.events.count))
        #expect(decoded.diagnostics[.corruptFrameEvents] > 0 && decoded.diagnostics[.corruptFrameEvents] <= damaged.eventCount)
        // Every event outside the damaged frame is there, in order.
        let before = frames[..<frameNumber].reduce(0) { $0 + Int($1.eventCount) }
        let after = frames[(frameNumber + 1)...].reduce(0) { $0 + Int($1.eventCount) }
        #expect(Array(decoded.events.prefix(before)) == Array(clean.events.prefix(before)))
        #expect(Array(decoded.events.suffix(after)) == Array(clean.events.suffix(after)))
        #expect(decoded.diagnostics.details(.corruptFrame).first?.hasPrefix("frame \(frameNumber) (file bytes \(damaged.fileOffset)..<") == true)
        #expect(decoded.diagnostics[.corruptCompressedData] == 0)
    }

    /// A file cut anywhere (a recorder killed mid-write: no index, last frame incomplete) keeps
    /// every frame that was complete before the cut; the frame list comes from a scan.
    @Test(arguments: [0.3, 0.55, 0.8, 0.97])
    func cutFileLosesAtMostTheFrameBeingWritten(fraction: Double) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory)
        let clean = try Self.events(path)
        let frames = try TraceFileReader(path: path).frames
        let bytes = readFile(path)
        let cut = Int(Double(bytes.count) * fraction)
        let cutPath = directory.path("cut.hvt")
        writeFile(cutPath, Array(bytes[0..<cut]))

        let reader = try TraceFileReader(path: cutPath)
        #expect(reader.frameListSource == .scan)
        let complete = frames.filter { $0.fileOffset + $0.compressedSize <= UInt64(cut) }
        #expect(reader.frames.count == complete.count + 1)
        let decoded = try Self.events(cutPath)
        let completeEvents = complete.reduce(0) { $0 + Int($1.eventCount) }
        #expect(decoded.events.count >= completeEvents)
        #expect(Array(decoded.events.prefix(completeEvents)) == Array(clean.events.prefix(completeEvents)))
        #expect(decoded.diagnostics[.truncatedFile] == 1)
        #expect(decoded.diagnostics[.seekIndexRebuilt] == 1)
        #expect(!decoded.diagnostics.hasErrors)
    }

    @Test func damagedIndexFallsBackToAScanAndLosesNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory, events: 60_000)
        let clean = try Self.events(path)
        let good = try TraceFileReader(path: path)
        var bytes = readFile(path)
        bytes[bytes.count - 40] ^= 0xFF  // inside the index entries: the checksum no longer matches
        writeFile(path, bytes)
        let reader = try TraceFileReader(path: path)
        #expect(reader.frameListSource == .scan)
        #expect(reader.frames.map(\.fileOffset) == good.frames.map(\.fileOffset))
        #expect(reader.frames.map(\.compressedSize) == good.frames.map(\.compressedSize))
        let decoded = try Self.events(path)
        #expect(decoded.events == clean.events)
        #expect(decoded.diagnostics[.seekIndexRebuilt] == 1)
        #expect(decoded.diagnostics.details(.seekIndexRebuilt).first?.contains("checksum") == true)
        #expect(!decoded.diagnostics.hasErrors)
    }

    /// Files of format 1.0 (one zstd frame, no index) read as one scanned frame and dump exactly
    /// as they did when 1.0 was current (the `.expected` files are from then).
    @Test(arguments: ["two-cpu-mixed", "forced-loss"])
    func singleFrameFilesOfFormat10StillRead(name: String) throws {
        let folder = FixtureTests.root.appendingPathComponent("good/format-1.0")
        let path = folder.appendingPathComponent(name + ".hvt").path
        let reader = try TraceFileReader(path: path)
        #expect(reader.frames.count == 1 && reader.frameListSource == .scan)
        let stream = try EventStream(path: path)
        var text = ""
        try stream.dump(path: name + ".hvt", options: TraceDumpOptions()) { text += $0 }
        text += stream.diagnostics.rendered() + "\n"
        #expect(text == (try String(contentsOfFile: folder.appendingPathComponent(name + ".expected").path, encoding: .utf8)))
        #expect(stream.diagnostics[.seekIndexRebuilt] == 0)
    }

    /// Readers of disjoint frame selections see, together, exactly the whole file's events.
    @Test func frameSelectionsPartitionTheEvents() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = try Self.framedTrace(directory, events: 80_000)
        let clean = try Self.events(path)
        let base = try TraceFileReader(path: path)
        let even = Array(stride(from: 0, to: base.frames.count, by: 2)), odd = Array(stride(from: 1, to: base.frames.count, by: 2))
        var union: [TimedEvent] = []
        for selection in [even, odd] {
            let reader = try TraceFileReader(sharing: base, frames: selection)
            let source = PageSource(reader: reader)
            source.forEachEvent { union.append($0) }
            #expect(reader.end == (selection.last == base.frames.count - 1 ? .complete : .endOfSelection))
        }
        #expect(union.count == clean.events.count)
        let key: (TimedEvent) -> String = { "\($0.cpu) \($0.timestamp) \($0.event)" }
        #expect(union.map(key).sorted() == clean.events.map(key).sorted())
    }
}

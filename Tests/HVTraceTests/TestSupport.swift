import CZstd
import Foundation
@testable import HVTrace

/// A fresh directory for one test's files, removed by `cleanup()`.
struct TemporaryDirectory {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Host barriers and counter for producers driven directly by tests.
enum TestPlatform: TracePlatform {
    static func storeBarrier() {}
    static func loadBarrier() {}
    static func counterNow() -> UInt64 { 0 }
}

/// Whole-buffer zstd, for building and taking apart fixture files.
enum Zstd {
    static func decompress(_ bytes: [UInt8]) -> [UInt8] {
        let context = ZSTD_createDStream()!
        defer { ZSTD_freeDStream(context) }
        var output: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        bytes.withUnsafeBytes { input in
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                let produced: Int = block.withUnsafeMutableBytes { out in
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    precondition(ZSTD_isError(result) == 0, "fixture source must decompress")
                    return outBuffer.pos
                }
                output += block[0..<produced]
                if produced == 0 && inBuffer.pos == inBuffer.size { break }
            }
        }
        return output
    }

    /// Compresses `bytes` as one frame, forcing a block boundary (ZSTD_e_flush) at every offset
    /// in `flushPoints`, so a cut file still yields everything before the cut.
    static func compress(_ bytes: [UInt8], level: Int32 = 9, flushPoints: [Int] = []) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        var output: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        let cuts = (flushPoints.filter { $0 > 0 && $0 < bytes.count } + [bytes.count]).sorted()
        var start = 0
        bytes.withUnsafeBytes { all in
            for (index, cut) in cuts.enumerated() {
                let last = index == cuts.count - 1
                var inBuffer = ZSTD_inBuffer(src: all.baseAddress! + start, size: cut - start, pos: 0)
                while true {
                    var remaining = 0
                    let produced: Int = block.withUnsafeMutableBytes { out in
                        var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                        remaining = ZSTD_compressStream2(context, &outBuffer, &inBuffer, last ? ZSTD_e_end : ZSTD_e_flush)
                        precondition(ZSTD_isError(remaining) == 0)
                        return outBuffer.pos
                    }
                    output += block[0..<produced]
                    if remaining == 0 { break }
                }
                start = cut
            }
        }
        return output
    }
}

/// The decompressed stream of an .hvt file, split into header and chunks, for editing fixtures.
struct HVTStream {
    struct Chunk {
        var type: UInt8
        var payload: [UInt8]
        var offset: Int
    }

    var header: [UInt8]
    var chunks: [Chunk]

    init(file: [UInt8]) {
        let stream = Zstd.decompress(file)
        let bodyLength = Int(stream[12]) | Int(stream[13]) << 8 | Int(stream[14]) << 16 | Int(stream[15]) << 24
        header = Array(stream[0..<(16 + bodyLength)])
        chunks = []
        var offset = header.count
        while offset + 5 <= stream.count {
            let length = Int(stream[offset + 1]) | Int(stream[offset + 2]) << 8 | Int(stream[offset + 3]) << 16 | Int(stream[offset + 4]) << 24
            chunks.append(Chunk(type: stream[offset], payload: Array(stream[(offset + 5)..<(offset + 5 + length)]), offset: offset))
            offset += 5 + length
        }
    }

    /// The stream bytes and the offset where each chunk starts.
    func bytes() -> (stream: [UInt8], chunkOffsets: [Int]) {
        var stream = header
        var offsets: [Int] = []
        for chunk in chunks {
            offsets.append(stream.count)
            let length = UInt32(chunk.payload.count)
            stream += [chunk.type, UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
            stream += chunk.payload
        }
        return (stream, offsets)
    }

    func compressed(flushEveryChunk: Bool = false) -> [UInt8] {
        let (stream, offsets) = bytes()
        return Zstd.compress(stream, flushPoints: flushEveryChunk ? offsets : [])
    }

    var pageChunkIndices: [Int] { chunks.indices.filter { chunks[$0].type == ChunkType.page.rawValue } }
}

/// Exit latencies per reason from events in per-CPU order (what the analyses will compute):
/// entry/return pairs on the same CPU; lost records or a second entry make an exit unmatched.
struct ExitPairing {
    var latencies: [String: [UInt64]] = [:]
    var unmatched: [String: Int] = [:]
    private var open: [UInt16: (reason: String, timestamp: UInt64)] = [:]

    mutating func add(_ timed: TimedEvent) {
        switch timed.event {
        case let .exitEntry(ec, _, _):
            if let previous = open[timed.cpu] { unmatched[previous.reason, default: 0] += 1 }
            open[timed.cpu] = (ExitReasonName.name(ec: ec), timed.timestamp)
        case .exitReturn:
            if let entry = open.removeValue(forKey: timed.cpu) {
                latencies[entry.reason, default: []].append(timed.timestamp - entry.timestamp)
            }
        case .lostEvents:
            if let entry = open.removeValue(forKey: timed.cpu) { unmatched[entry.reason, default: 0] += 1 }
        default:
            break
        }
    }
}

func readFile(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path)!) }
func writeFile(_ path: String, _ bytes: [UInt8]) { FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

/// Decodes a whole file through the merged stream; the error text if it cannot be opened.
func decodeAll(_ path: String) -> (events: [TimedEvent], diagnostics: DecodeDiagnostics)? {
    guard let stream = try? EventStream(path: path) else { return nil }
    var events: [TimedEvent] = []
    while let event = try? stream.next() { events.append(event) }
    return (events, stream.diagnostics)
}

/// A small 2-CPU synthetic trace at `directory/name` whose zstd stream is flushed after every
/// chunk (as a recorder that expects to die flushes), so a cut anywhere leaves every earlier chunk
/// readable. Returns the file's bytes and its stream (for chunk offsets).
func flushedSyntheticTrace(_ directory: TemporaryDirectory, name: String, events: Int, pageSize: UInt32,
                           seed: UInt64) throws -> (path: String, bytes: [UInt8], stream: HVTStream) {
    var options = SyntheticTraceOptions()
    options.events = events
    options.cpus = 2
    options.pageSize = pageSize
    options.seed = seed
    let path = directory.path(name)
    _ = try SyntheticTraceGenerator.generate(to: path, options: options)
    let stream = HVTStream(file: readFile(path))
    let bytes = stream.compressed(flushEveryChunk: true)
    writeFile(path, bytes)
    return (path, bytes, stream)
}

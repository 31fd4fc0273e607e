// Reads .hvt files chunk by chunk with a fixed amount of memory: one zstd input block, one window
// of decompressed bytes (large enough for the biggest chunk) and the zstd context. Nothing grows
// with the file.

/// A view of one chunk's payload, valid until the next call to `TraceFileReader.nextChunk()`.
public struct RawChunk {
    /// The chunk type byte (may be one this reader does not know).
    public var type: UInt8
    public var payload: UnsafeRawBufferPointer
    /// Stream offset of the chunk header.
    public var streamOffset: UInt64
}

/// How a reader's stream ended.
public enum TraceFileEnd: Equatable, Sendable {
    /// Still reading.
    case notYet
    /// The end chunk was read.
    case complete
    /// Input ended early (see diagnostics `truncated_file`).
    case truncated(fileOffset: UInt64, streamOffset: UInt64)
    /// Reading stopped at unreadable data (see diagnostics).
    case failed
}

/// Opens an .hvt file, parses its header, then hands out chunks in file order.
public final class TraceFileReader {
    public let path: String
    public let header: TraceFileHeader
    /// Counters for everything odd seen so far; `PageSource` and `EventStream` add to it.
    @exclusivity(unchecked) public var diagnostics = DecodeDiagnostics()
    /// Final ring counters, by CPU, once their chunks were read.
    public private(set) var ringStates: [RingStateSnapshot] = []
    /// The highest watermark read so far (0 before any).
    @exclusivity(unchecked) public private(set) var watermark: UInt64 = 0
    /// Page chunks the end chunk says were written (nil until it is read).
    public private(set) var pagesWrittenAccordingToEnd: UInt64?
    @exclusivity(unchecked) public private(set) var end: TraceFileEnd = .notYet

    private let window: DecompressedWindow

    /// Opens `path` and reads its header. Throws when the file is not a readable .hvt trace.
    public convenience init(path: String) throws(TraceFileError) {
        try self.init(input: try PosixFile.openForReading(path), name: path)
    }

    /// Reads an .hvt file already in memory; `name` stands for the path in errors and diagnostics.
    public convenience init(bytes: [UInt8], name: String) throws(TraceFileError) {
        try self.init(input: MemoryInput(bytes), name: name)
    }

    private init(input file: any CompressedInput, name path: String) throws(TraceFileError) {
        self.path = path
        let window: DecompressedWindow
        do {
            window = try DecompressedWindow(file: file, capacity: 2 * TraceFileLayout.maximumPayload,
                                             pipelined: !(file is MemoryInput) && DecompressionPipeline.isEnabled)
        } catch {
            throw TraceFileError(path: path, reason: error)
        }
        self.window = window
        // Empty and non-zstd files get their own message before zstd's generic one.
        let firstBytes = window.peekCompressed(count: 4)
        if window.compressedFileOffset == 0 && firstBytes.isEmpty { throw TraceFileError(path: path, reason: .empty) }
        if firstBytes != TraceFileLayout.zstdMagicBytes {
            throw TraceFileError(path: path, reason: .notZstd(firstBytes: Array(window.peekCompressed(count: 8))))
        }
        func headerFailure() -> TraceFileError {
            if case let .corrupt(offset, message) = window.failure {
                return TraceFileError(path: path, reason: .corruptCompressedData(fileOffset: offset, zstdMessage: message))
            }
            if case let .io(reason) = window.failure { return TraceFileError(path: path, reason: reason) }
            return TraceFileError(path: path, reason: .truncatedHeader(fileOffset: window.compressedFileOffset,
                                                                       streamOffset: window.streamOffsetOfEnd))
        }
        guard window.require(TraceFileLayout.preambleSize) else { throw headerFailure() }
        var preamble = ByteReader(window.available)
        let magic = preamble.u64()!, major = preamble.u16()!, minor = preamble.u16()!, bodyLength = preamble.u32()!
        guard magic == TraceFileLayout.magic else { throw TraceFileError(path: path, reason: .badMagic(found: magic)) }
        guard major == TraceFileLayout.majorVersion else {
            throw TraceFileError(path: path, reason: .unsupportedVersion(what: "file format", major: major, minor: minor))
        }
        guard bodyLength <= UInt32(TraceFileLayout.maximumPayload) else {
            throw TraceFileError(path: path, reason: .invalidHeader(streamOffset: 12, detail: "header length \(bodyLength) exceeds \(TraceFileLayout.maximumPayload)"))
        }
        window.consume(TraceFileLayout.preambleSize)
        guard window.require(Int(bodyLength)) else { throw headerFailure() }
        header = try TraceFileHeader.decode(body: UnsafeRawBufferPointer(rebasing: window.available[0..<Int(bodyLength)]),
                                            bodyOffset: UInt64(TraceFileLayout.preambleSize), path: path)
        window.consume(Int(bodyLength))
    }

    /// The next chunk of any type, or nil when the stream ended (cleanly or not: see `end`).
    /// Ring-state, watermark and end chunks are also absorbed into this reader's properties.
    public func nextChunk() -> RawChunk? {
        guard end == .notYet else { return nil }
        let chunkOffset = window.streamOffset
        guard window.require(TraceFileLayout.chunkHeaderSize) else {
            stop(insideChunkAt: window.available.isEmpty ? nil : chunkOffset)
            return nil
        }
        var reader = ByteReader(window.available)
        let type = reader.fixed(UInt8.self)!
        let length = Int(reader.u32()!)
        guard length <= TraceFileLayout.maximumPayload else {
            diagnostics.count(.corruptChunk, detail: "chunk at stream offset \(chunkOffset) (type \(type)) claims \(length) bytes, more than the \(TraceFileLayout.maximumPayload) any chunk may hold")
            end = .failed
            return nil
        }
        guard window.require(TraceFileLayout.chunkHeaderSize + length) else {
            stop(insideChunkAt: chunkOffset)
            return nil
        }
        let payload = UnsafeRawBufferPointer(rebasing: window.available[TraceFileLayout.chunkHeaderSize..<(TraceFileLayout.chunkHeaderSize + length)])
        window.consume(TraceFileLayout.chunkHeaderSize + length)
        let chunk = RawChunk(type: type, payload: payload, streamOffset: chunkOffset)
        absorb(chunk)
        return chunk
    }

    /// Reads the bookkeeping chunks into properties.
    private func absorb(_ chunk: RawChunk) {
        var reader = ByteReader(chunk.payload)
        switch ChunkType(rawValue: chunk.type) {
        case .ringState:
            guard chunk.payload.count >= RingStateSnapshot.payloadSize else {
                diagnostics.count(.corruptChunk, detail: "ring-state chunk at stream offset \(chunk.streamOffset) has \(chunk.payload.count) bytes, needs \(RingStateSnapshot.payloadSize)")
                return
            }
            let cpu = reader.u16()!
            let state = RingStateSnapshot(cpu: cpu, producerSequence: reader.u64()!, consumerSequence: reader.u64()!,
                                          lostEvents: reader.u64()!, producedEvents: reader.u64()!,
                                          overwrittenPages: reader.u64()!, openSequence: reader.u64()!)
            ringStates.removeAll { $0.cpu == cpu }
            ringStates.append(state)
        case .watermark:
            if let value = reader.u64() { watermark = max(watermark, value) }
        case .end:
            pagesWrittenAccordingToEnd = reader.u64()
            end = .complete
            // Pull in the rest of the frame so a missing checksum (a cut in the last bytes) shows.
            _ = window.require(window.available.count + 1)
            if window.failure == nil && window.endedInsideFrame {
                diagnostics.count(.truncatedFile, detail: "file ends at byte \(window.compressedFileOffset) inside the final zstd frame (its checksum is missing); every chunk was read")
                end = .truncated(fileOffset: window.compressedFileOffset, streamOffset: window.streamOffsetOfEnd)
            }
        case .page:
            break
        case nil:
            diagnostics.count(.skippedUnknownChunks, detail: "chunk type \(chunk.type) at stream offset \(chunk.streamOffset), \(chunk.payload.count) bytes")
        }
    }

    /// Records why the stream ended without an end chunk.
    private func stop(insideChunkAt chunkOffset: UInt64?) {
        switch window.failure {
        case let .corrupt(fileOffset, message):
            diagnostics.count(.corruptCompressedData, detail: "in the \(StreamDecompressor.inputSlice) bytes from file byte \(fileOffset) (stream offset \(window.streamOffsetOfEnd)): zstd: \(message)")
            end = .failed
        case let .io(reason):
            diagnostics.count(.readError, detail: TraceFileError(path: path, reason: reason).description)
            end = .failed
        case nil:
            let fileOffset = window.compressedFileOffset, streamOffset = window.streamOffsetOfEnd
            var where_ = "between chunks"
            if let chunkOffset { where_ = "inside the chunk that starts at stream offset \(chunkOffset)" }
            let frame = window.endedInsideFrame ? ", inside a zstd frame" : ""
            diagnostics.count(.truncatedFile, detail: "file ends at byte \(fileOffset) (stream offset \(streamOffset)) \(where_)\(frame), before the end chunk")
            end = .truncated(fileOffset: fileOffset, streamOffset: streamOffset)
        }
    }
}

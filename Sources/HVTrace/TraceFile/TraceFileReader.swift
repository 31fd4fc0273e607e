// Reads .hvt files chunk by chunk with a fixed amount of memory: one zstd input block, one window
// of decompressed bytes (large enough for the biggest chunk) and the zstd context. Nothing grows
// with the file. The file's zstd frames (from the seek index, or a scan when it has none) are read
// one at a time, each by a decompressor of its own: a frame that fails to decompress costs only
// the rest of that frame, and a reader may read any subset of frames (time ranges, parallel analysis).

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
    /// A reader of some of the frames (`TraceFileReader(sharing:frames:)`) read the last of them.
    case endOfSelection
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

    /// The file's frames, in file order, and where that list came from.
    public let frames: [FrameEntry]
    public let frameListSource: FrameListSource
    /// Why the seek index was not used (nil when it was, or when the file is a 1.0 single frame).
    public let indexProblem: String?
    /// Stream bytes before the first chunk (preamble and header body), all in frame 0.
    public let headerLength: Int
    /// The frames this reader reads (indices into `frames`), in order, and the next one.
    private let selection: [Int]
    private var selectionPosition = 0
    /// Number (in `frames`) of the frame being read, and events of its page chunks handed out.
    public private(set) var frameNumber = 0
    private var frameEventsDelivered: UInt64 = 0
    /// Frames that failed to decompress or ended inside a chunk (their other frames were read).
    public private(set) var damagedFrames: [Int] = []

    private let input: RandomAccessInput
    private let pipelined: Bool
    private var window: DecompressedWindow

    /// Opens `path` and reads its header. Throws when the file is not a readable .hvt trace.
    public convenience init(path: String) throws(TraceFileError) {
        try self.init(input: try PosixFile.openForReading(path), name: path)
    }

    /// Reads an .hvt file already in memory; `name` stands for the path in errors and diagnostics.
    public convenience init(bytes: [UInt8], name: String) throws(TraceFileError) {
        try self.init(input: MemoryInput(bytes), name: name)
    }

    private init(input file: RandomAccessInput, name path: String) throws(TraceFileError) {
        self.path = path
        input = file
        pipelined = !(file is MemoryInput) && DecompressionPipeline.isEnabled
        switch SeekIndex.read(from: file) {
        case let .success(entries):
            frames = entries
            frameListSource = .index
            indexProblem = nil
        case let .failure(problem):
            var scanned = FrameScanner.scan(file)
            if scanned.isEmpty { scanned = [FrameEntry(fileOffset: 0, compressedSize: file.size)] }
            frames = scanned
            frameListSource = .scan
            switch problem {
            case .absent: indexProblem = scanned.count > 1 ? "the file has no seek index (cut short?): frames found by a scan" : nil
            case let .damaged(detail): indexProblem = "seek index unusable (\(detail)): frames found by a scan"
            }
        }
        selection = Array(frames.indices)
        let window: DecompressedWindow
        do {
            window = try Self.openWindow(frames[0], input: file, pipelined: pipelined, upToEnd: frames.count == 1)
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
        var header = try TraceFileHeader.decode(body: UnsafeRawBufferPointer(rebasing: window.available[0..<Int(bodyLength)]),
                                                bodyOffset: UInt64(TraceFileLayout.preambleSize), path: path)
        header.fileMinorVersion = minor
        self.header = header
        window.consume(Int(bodyLength))
        headerLength = TraceFileLayout.preambleSize + Int(bodyLength)
        if let indexProblem { diagnostics.count(.seekIndexRebuilt, detail: indexProblem) }
    }

    /// A reader of the frames `frameNumbers` (ascending indices into `base.frames`) of the file
    /// `base` opened, with the same header and fresh diagnostics: for a time range, or for one
    /// worker of a parallel analysis. It ends with `.endOfSelection` after the last of them (or
    /// `.complete` if that frame holds the end chunk). `pipelined` false: no decompression thread.
    public init(sharing base: TraceFileReader, frames frameNumbers: [Int], pipelined: Bool = false) throws(TraceFileError) {
        path = base.path
        header = base.header
        input = base.input
        frames = base.frames
        frameListSource = base.frameListSource
        indexProblem = base.indexProblem
        headerLength = base.headerLength
        self.pipelined = pipelined
        selection = frameNumbers.filter { $0 >= 0 && $0 < base.frames.count }
        let first = selection.first ?? 0
        do {
            window = try Self.openWindow(frames[first], input: input, pipelined: pipelined, upToEnd: first == frames.count - 1)
        } catch {
            throw TraceFileError(path: path, reason: error)
        }
        frameNumber = first
        if selection.isEmpty {
            end = .endOfSelection
        } else if first == 0 {
            // Frame 0 opens with the header, already parsed by `base`.
            if window.require(headerLength) { window.consume(headerLength) }
        }
    }

    /// A window over one frame's compressed bytes (the last frame: everything up to the file end,
    /// so bytes appended after the frame list was made still count as truncation, not silence).
    private static func openWindow(_ frame: FrameEntry, input: RandomAccessInput, pipelined: Bool,
                                   upToEnd: Bool) throws(TraceFileError.Reason) -> DecompressedWindow {
        let end = upToEnd ? input.size : frame.fileOffset + frame.compressedSize
        return try DecompressedWindow(file: RangeInput(input, from: frame.fileOffset, to: end),
                                      capacity: 2 * TraceFileLayout.maximumPayload, pipelined: pipelined,
                                      fileOffset: frame.fileOffset, streamOffset: frame.streamOffset)
    }

    /// The next chunk of any type, or nil when the stream ended (cleanly or not: see `end`).
    /// Ring-state, watermark and end chunks are also absorbed into this reader's properties.
    /// At the end of a frame the next selected frame is opened; a frame that fails or ends inside
    /// a chunk is counted (`corrupt_frame`) and reading goes on with the next one.
    public func nextChunk() -> RawChunk? {
        while end == .notYet {
            let chunkOffset = window.streamOffset
            guard window.require(TraceFileLayout.chunkHeaderSize) else {
                frameEnded(insideChunkAt: window.available.isEmpty ? nil : chunkOffset)
                continue
            }
            var reader = ByteReader(window.available)
            let type = reader.fixed(UInt8.self)!
            let length = Int(reader.u32()!)
            guard length <= TraceFileLayout.maximumPayload else {
                let detail = "chunk at stream offset \(chunkOffset) (type \(type)) claims \(length) bytes, more than the \(TraceFileLayout.maximumPayload) any chunk may hold"
                if hasNextFrame {
                    frameFailed(detail: detail)
                    continue
                }
                diagnostics.count(.corruptChunk, detail: detail)
                end = .failed
                return nil
            }
            guard window.require(TraceFileLayout.chunkHeaderSize + length) else {
                frameEnded(insideChunkAt: chunkOffset)
                continue
            }
            let payload = UnsafeRawBufferPointer(rebasing: window.available[TraceFileLayout.chunkHeaderSize..<(TraceFileLayout.chunkHeaderSize + length)])
            window.consume(TraceFileLayout.chunkHeaderSize + length)
            let chunk = RawChunk(type: type, payload: payload, streamOffset: chunkOffset)
            if type == ChunkType.page.rawValue && payload.count >= TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size {
                frameEventsDelivered &+= UInt64(PageHeader.load(from: payload.baseAddress! + TraceFileLayout.pageChunkPrefix).eventCount)
            }
            absorb(chunk)
            return chunk
        }
        return nil
    }

    /// Whether a selected frame follows the current one.
    private var hasNextFrame: Bool { selectionPosition + 1 < selection.count }

    /// The current frame's decompressor stopped (`window.require` failed): at its clean end, move
    /// to the next frame; otherwise count what was lost and move on, or end the stream.
    private func frameEnded(insideChunkAt chunkOffset: UInt64?) {
        let cleanEnd = window.failure == nil && !window.endedInsideFrame && chunkOffset == nil
        if cleanEnd {
            advance()
            return
        }
        guard hasNextFrame else {
            stop(insideChunkAt: chunkOffset)
            return
        }
        var detail: String
        switch window.failure {
        case let .corrupt(fileOffset, message):
            detail = "zstd: \(message) in the \(StreamDecompressor.inputSlice) bytes from file byte \(fileOffset)"
        case let .io(reason):
            detail = TraceFileError(path: path, reason: reason).description
        case nil:
            detail = window.endedInsideFrame ? "frame cut at file byte \(window.compressedFileOffset)"
                : "frame ends inside the chunk at stream offset \(chunkOffset ?? window.streamOffset)"
        }
        frameFailed(detail: detail)
    }

    /// Counts the current frame as damaged (events the index lists beyond those read are lost)
    /// and goes on with the next frame.
    private func frameFailed(detail: String) {
        let frame = frames[frameNumber]
        damagedFrames.append(frameNumber)
        var text = "frame \(frameNumber) (file bytes \(frame.fileOffset)..<\(frame.fileOffset + frame.compressedSize)): \(detail)"
        if frame.isIndexed {
            let lost = frame.eventCount > frameEventsDelivered ? frame.eventCount - frameEventsDelivered : 0
            text += "; \(lost) of its \(frame.eventCount) events lost"
            diagnostics.count(.corruptFrameEvents, lost, detail: "frame \(frameNumber): \(lost) of \(frame.eventCount) events")
        } else {
            text += "; its event count is unknown (no seek index): lost pages are counted from the sequence gaps"
        }
        diagnostics.count(.corruptFrame, detail: text)
        advance()
    }

    /// Opens the next selected frame, or ends the stream after the last one.
    private func advance() {
        let streamEnd = window.streamOffsetOfEnd
        selectionPosition += 1
        guard selectionPosition < selection.count else {
            if selection.count < frames.count || selection.last != frames.count - 1 {
                end = .endOfSelection
            } else {
                stop(insideChunkAt: nil)
            }
            return
        }
        frameNumber = selection[selectionPosition]
        frameEventsDelivered = 0
        var frame = frames[frameNumber]
        // A scanned entry knows no stream offset: the stream continues where the last frame ended.
        if !frame.isIndexed { frame.streamOffset = streamEnd }
        do {
            window = try Self.openWindow(frame, input: input, pipelined: pipelined, upToEnd: frameNumber == frames.count - 1)
        } catch {
            diagnostics.count(.readError, detail: TraceFileError(path: path, reason: error).description)
            end = .failed
        }
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
            if !window.available.isEmpty {
                // Chunks follow: an end chunk in mid-file (damage) must not hide the rest.
                diagnostics.count(.chunksAfterEnd, detail: "end chunk at stream offset \(chunk.streamOffset) is followed by \(window.available.count)+ more bytes of chunks; reading on")
                end = .notYet
                return
            }
            if window.failure == nil && window.endedInsideFrame {
                diagnostics.count(.truncatedFile, detail: "file ends at byte \(window.compressedFileOffset) inside the final zstd frame (its checksum is missing); every chunk was read")
                end = .truncated(fileOffset: window.compressedFileOffset, streamOffset: window.streamOffsetOfEnd)
            }
        case .page, .frameStart:
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

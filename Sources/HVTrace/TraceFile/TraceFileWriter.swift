// Writes .hvt files: header, then chunks, compressed as a series of independent zstd frames (one
// per `frameTarget` stream bytes, and one ends at every `flush()`), then the seek index listing
// them (FrameIndex.swift). Output goes to a temporary file beside the destination and is renamed
// into place by `close()`, so an error or a crash never leaves a partial file under the final name.

/// Streams a trace into an .hvt file.
public final class TraceFileWriter {
    /// The final path (exists only after a successful `close()`).
    public let path: String
    /// Where bytes go until `close()` renames it to `path`.
    public let temporaryPath: String
    public let header: TraceFileHeader
    private var file: PosixFile?
    private let compressor: ZstdCompressor
    /// Uncompressed bytes waiting for the compressor (batched: compressing tiny inputs is slow).
    /// Flushed once it holds `stagingThreshold` bytes; sized so one more chunk always fits.
    private let staging: UnsafeMutableRawPointer
    private var stagingCount = 0
    private let stagingThreshold = 256 << 10
    private let stagingCapacity = (256 << 10) + TraceFileLayout.maximumPayload + 64
    /// Page chunks written so far (stored in the end chunk).
    public private(set) var pagesWritten: UInt64 = 0
    /// Record bytes (page headers excluded) of the pages written so far.
    public private(set) var pageRecordBytes: UInt64 = 0
    /// Uncompressed stream bytes so far.
    public private(set) var streamBytes: UInt64 = 0
    /// Compressed bytes written to disk so far.
    public private(set) var fileBytes: UInt64 = 0
    /// Frames finished so far (the seek index written by `close()`), and the one being written.
    public private(set) var frames: [FrameEntry] = []
    private var currentFrame = FrameEntry(fileOffset: 0, compressedSize: 0, isIndexed: true)
    /// Per CPU: index into `currentFrame.sequences` (−1: no page of that CPU in this frame yet).
    private var frameRangeSlot = [Int](repeating: -1, count: 64)
    /// The next chunk starts a new frame, so a frame-start chunk goes first.
    private var frameStartPending = false
    /// Stream bytes after which a frame is closed at the next chunk boundary: small enough that a
    /// 100 M-event trace has ~100 frames to share among cores and a damaged spot costs little,
    /// large enough that zstd's ratio barely changes (FORMAT.md §7).
    public let frameTarget: Int

    /// The default stream bytes per frame.
    public static let defaultFrameTarget = 4 << 20

    /// The default zstd level: measured best size/speed trade-off for trace pages (FORMAT.md).
    public static let defaultCompressionLevel: Int32 = 9

    /// Creates the temporary file and writes the header.
    public init(path: String, header: TraceFileHeader, compressionLevel: Int32 = TraceFileWriter.defaultCompressionLevel,
                frameTarget: Int = TraceFileWriter.defaultFrameTarget) throws(TraceFileError) {
        self.path = path
        self.frameTarget = max(1 << 16, frameTarget)
        self.header = header
        temporaryPath = path + ".partial-\(currentProcessID())"
        do {
            compressor = try ZstdCompressor(level: compressionLevel)
        } catch {
            throw TraceFileError(path: path, reason: error)
        }
        staging = .allocate(byteCount: stagingCapacity, alignment: 16)
        do {
            file = try PosixFile.create(temporaryPath)
        } catch {
            // Name the file the user asked for; the temporary name is an implementation detail.
            throw TraceFileError(path: path, reason: error.reason)
        }
        let body = header.encodedBody()
        var preamble = ByteWriter()
        preamble.u64(TraceFileLayout.magic)
        preamble.u16(TraceFileLayout.majorVersion)
        preamble.u16(TraceFileLayout.minorVersion)
        preamble.u32(UInt32(body.count))
        try append(preamble.bytes)
        try append(body)
    }

    deinit {
        staging.deallocate()
        if file != nil {
            file = nil
            removeFile(temporaryPath)
        }
    }

    /// Writes one drained page. `page` may be the whole ring page: it is trimmed to the header
    /// plus its used bytes (clamped to `page.count` if the header's length is corrupt).
    public func writePage(_ page: UnsafeRawBufferPointer, cpu: UInt16, sequence: UInt64) throws(TraceFileError) {
        try beginChunk()
        var length = page.count
        if page.count >= PageHeaderLayout.size, let base = page.baseAddress {
            let pageHeader = PageHeader.load(from: base)
            length = min(page.count, PageHeaderLayout.size + Int(pageHeader.usedBytes))
            noteInFrame(UnsafeRawBufferPointer(rebasing: page[0..<length]), header: pageHeader, cpu: cpu, sequence: sequence)
        }
        // Built in place: this runs once per drained page.
        var prefix = ByteWriter()
        prefix.u8(ChunkType.page.rawValue)
        prefix.u32(UInt32(TraceFileLayout.pageChunkPrefix + length))
        prefix.u16(cpu)
        prefix.u64(sequence)
        try append(prefix.bytes)
        try append(UnsafeRawBufferPointer(rebasing: page[0..<length]))
        pagesWritten += 1
        pageRecordBytes += UInt64(max(0, length - PageHeaderLayout.size))
        try endFrameIfFull()
    }

    /// What the seek index says of the current frame: its CPUs, sequences, time span, events.
    private func noteInFrame(_ page: UnsafeRawBufferPointer, header pageHeader: PageHeader, cpu: UInt16, sequence: UInt64) {
        currentFrame.pageCount &+= 1
        currentFrame.eventCount &+= UInt64(pageHeader.eventCount)
        currentFrame.firstTimestamp = min(currentFrame.firstTimestamp, pageHeader.timestamp)
        var last = LastTimestamp()
        if var decoder = try? PageDecoder(bytes: page, pageSize: Int(header.region.pageSize), cpuCount: Int(header.region.cpuCount)) {
            last.value = pageHeader.timestamp
            try? decoder.decodeAll(into: &last)
        } else {
            last.value = pageHeader.timestamp
        }
        currentFrame.lastTimestamp = max(currentFrame.lastTimestamp, last.value)
        let slotIndex = Int(min(cpu, 63))
        if frameRangeSlot[slotIndex] < 0 {
            frameRangeSlot[slotIndex] = currentFrame.sequences.count
            currentFrame.sequences.append(CPUSequenceRange(cpu: cpu, first: sequence, last: sequence))
        } else {
            let slot = frameRangeSlot[slotIndex]
            currentFrame.sequences[slot].first = min(currentFrame.sequences[slot].first, sequence)
            currentFrame.sequences[slot].last = max(currentFrame.sequences[slot].last, sequence)
        }
    }

    /// The timestamp of a page's last record.
    private struct LastTimestamp: RecordVisitor {
        var value: UInt64 = 0
        mutating func visit(_ event: TraceEvent, timestamp: UInt64) { value = timestamp }
    }

    /// Before a chunk: if the previous frame was closed, starts the next one with its frame-start
    /// chunk (frame number and stream offset), so every frame names itself.
    private func beginChunk() throws(TraceFileError) {
        guard frameStartPending else { return }
        frameStartPending = false
        var writer = ByteWriter()
        writer.u8(ChunkType.frameStart.rawValue)
        writer.u32(12)
        writer.u32(UInt32(truncatingIfNeeded: frames.count))
        writer.u64(streamBytes)
        try append(writer.bytes)
    }

    /// Closes the current frame once it holds `frameTarget` stream bytes.
    private func endFrameIfFull() throws(TraceFileError) {
        if streamBytes - currentFrame.streamOffset >= UInt64(frameTarget) { try endFrame() }
    }

    /// Finishes the current zstd frame and records it for the index; nothing if it is empty.
    private func endFrame() throws(TraceFileError) {
        guard !frameStartPending, streamBytes > currentFrame.streamOffset else { return }
        try flushStaging(mode: .end)
        currentFrame.compressedSize = fileBytes - currentFrame.fileOffset
        currentFrame.streamLength = streamBytes - currentFrame.streamOffset
        frames.append(currentFrame)
        currentFrame = FrameEntry(fileOffset: fileBytes, compressedSize: 0, streamOffset: streamBytes, isIndexed: true)
        frameRangeSlot = [Int](repeating: -1, count: 64)
        frameStartPending = true
    }

    /// Writes a ring's final counters.
    public func writeRingState(_ state: RingStateSnapshot) throws(TraceFileError) {
        try beginChunk()
        try chunk(.ringState, payloadLength: RingStateSnapshot.payloadSize) { writer in
            writer.u16(state.cpu)
            for value in [state.producerSequence, state.consumerSequence, state.lostEvents, state.producedEvents,
                          state.overwrittenPages, state.openSequence] {
                writer.u64(value)
            }
        }
    }

    /// Promises that no page written after this holds an event stamped before `timestamp`.
    public func writeWatermark(_ timestamp: UInt64) throws(TraceFileError) {
        try beginChunk()
        try chunk(.watermark, payloadLength: 8) { $0.u64(timestamp) }
    }

    /// Writes a chunk of a type this version does not define (for forward-compatibility tests).
    public func writeRawChunk(type: UInt8, payload: [UInt8]) throws(TraceFileError) {
        try beginChunk()
        var writer = ByteWriter()
        writer.u8(type)
        writer.u32(UInt32(payload.count))
        writer.bytes.append(contentsOf: payload)
        try append(writer.bytes)
    }

    /// Ends the current zstd frame and pushes it to disk, so a reader of the (temporary) file sees
    /// everything written so far as complete frames even if the writer dies later (a SIGKILL then
    /// loses at most what came after the last flush). Costs a frame header and checksum per call.
    public func flush() throws(TraceFileError) {
        try endFrame()
    }

    /// Writes the end chunk, finishes the last frame, appends the seek index, syncs and renames
    /// the file into place.
    public func close() throws(TraceFileError) {
        try beginChunk()
        try chunk(.end, payloadLength: 8) { $0.u64(pagesWritten) }
        try endFrame()
        guard let file else { throw TraceFileError(path: path, reason: .writerClosed) }
        do {
            let index = SeekIndex.encode(frames)
            try index.withUnsafeBytes { raw in Result { () throws(TraceFileError.Reason) in try file.write(raw) } }.get()
            fileBytes += UInt64(index.count)
            try file.sync()
        } catch {
            throw TraceFileError(path: temporaryPath, reason: error)
        }
        self.file = nil
        try renameFile(from: temporaryPath, to: path)
    }

    /// Abandons the file: the temporary file is removed and nothing appears at `path`.
    public func discard() {
        file = nil
        removeFile(temporaryPath)
    }

    private func chunk(_ type: ChunkType, payloadLength: Int, _ fill: (inout ByteWriter) -> Void) throws(TraceFileError) {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(TraceFileLayout.chunkHeaderSize + payloadLength)
        writer.u8(type.rawValue)
        writer.u32(UInt32(payloadLength))
        fill(&writer)
        precondition(writer.bytes.count == TraceFileLayout.chunkHeaderSize + payloadLength, "chunk length mismatch")
        try append(writer.bytes)
    }

    private func append(_ bytes: [UInt8]) throws(TraceFileError) {
        guard file != nil else { throw TraceFileError(path: path, reason: .writerClosed) }
        precondition(bytes.count <= stagingCapacity - stagingCount, "chunk larger than the staging buffer")
        bytes.withUnsafeBytes { raw in
            if raw.count > 0 { (staging + stagingCount).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
        }
        stagingCount += bytes.count
        streamBytes += UInt64(bytes.count)
        if stagingCount >= stagingThreshold { try flushStaging(mode: .continue) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws(TraceFileError) {
        guard file != nil else { throw TraceFileError(path: path, reason: .writerClosed) }
        precondition(bytes.count <= stagingCapacity - stagingCount, "chunk larger than the staging buffer")
        if bytes.count > 0 { (staging + stagingCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        stagingCount += bytes.count
        streamBytes += UInt64(bytes.count)
        if stagingCount >= stagingThreshold { try flushStaging(mode: .continue) }
    }

    private func flushStaging(mode: ZstdCompressor.Mode) throws(TraceFileError) {
        guard let file else { throw TraceFileError(path: path, reason: .writerClosed) }
        do {
            let input = UnsafeRawBufferPointer(start: staging, count: stagingCount)
            fileBytes += UInt64(try compressor.compress(input, mode: mode, into: file))
        } catch {
            discard()
            throw TraceFileError(path: temporaryPath, reason: error)
        }
        stagingCount = 0
    }
}

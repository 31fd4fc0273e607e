// The decompressed side of a .hvt reader: zstd decompression of the file (`StreamDecompressor`),
// optionally on a thread of its own (`DecompressionPipeline`), and the sliding window the chunk
// parser reads from (`DecompressedWindow`). Every buffer has a fixed size: nothing grows with the file.

#if canImport(Glibc)
import Glibc
#endif

/// Where a stream of compressed input stopped being readable.
enum StreamFailure: Equatable {
    /// zstd rejected the bytes in the `inputSlice` bytes from `fileOffset`.
    case corrupt(fileOffset: UInt64, message: String)
    /// Reading the file failed.
    case io(TraceFileError.Reason)
}

/// Where the decompressor stands: what the reader's diagnostics name when the stream ends.
struct DecompressionPosition: Equatable {
    /// Compressed bytes consumed so far (= file offset of the next byte zstd reads).
    var compressedFileOffset: UInt64 = 0
    /// Whether the input so far ended inside a zstd frame.
    var endedInsideFrame = false
    var failure: StreamFailure?
}

/// Reads a file's zstd stream and decompresses it into caller-supplied buffers, one `inputSlice`
/// of compressed input per zstd call.
final class StreamDecompressor {
    /// Compressed bytes handed to zstd per call. zstd reports no output for a call that fails, so
    /// small slices keep everything decoded before a damaged spot (and locate it to this many bytes).
    static let inputSlice = 1024

    private let file: any CompressedInput
    private let decompressor: ZstdDecompressor
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var inputExhausted = false
    /// Whether the last zstd call filled its output completely (more may be buffered inside zstd).
    private var outputWasFull = false
    /// File bytes read before `input[0]`.
    private var inputFileOffset: UInt64 = 0
    private var failure: StreamFailure?
    /// Nothing more will come: the input ended or failed.
    private(set) var finished = false

    /// `fileOffset`: where in the file `file`'s first byte is (for the offsets in messages).
    init(file: any CompressedInput, fileOffset: UInt64 = 0) throws(TraceFileError.Reason) {
        self.file = file
        inputFileOffset = fileOffset
        decompressor = try ZstdDecompressor()
        input = .allocate(byteCount: ZstdDecompressor.recommendedInputSize, alignment: 16)
        try refillInput()
    }

    deinit { input.deallocate() }

    var position: DecompressionPosition {
        DecompressionPosition(compressedFileOffset: inputFileOffset + UInt64(inputStart),
                              endedInsideFrame: decompressor.insideFrame, failure: failure)
    }

    /// The first compressed bytes not yet decompressed (file-type checks before any decoding).
    func peekCompressed(count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(rebasing: input[inputStart..<min(inputEnd, inputStart + count)]))
    }

    /// Decompresses into `output` until it is full or the stream ends or fails (then `finished`);
    /// returns the bytes written.
    func fill(_ output: UnsafeMutableRawBufferPointer) -> Int {
        var produced = 0
        while produced < output.count && !finished {
            if inputStart == inputEnd && !outputWasFull {
                if inputExhausted {
                    finished = true
                    break
                }
                do {
                    try refillInput()
                } catch {
                    failure = .io(error)
                    finished = true
                    break
                }
                if inputStart == inputEnd {
                    finished = true
                    break
                }
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: output[produced...])
            let sliceStart = inputStart
            let slice = UnsafeRawBufferPointer(rebasing: input[0..<min(inputEnd, inputStart + Self.inputSlice)])
            switch decompressor.decompress(input: slice, inputPosition: &inputStart, output: room) {
            case let .success(count):
                produced += count
                outputWasFull = count == room.count
            case let .failure(problem):
                failure = .corrupt(fileOffset: inputFileOffset + UInt64(sliceStart), message: problem.message)
                finished = true
            }
        }
        return produced
    }

    private func refillInput() throws(TraceFileError.Reason) {
        inputFileOffset += UInt64(inputEnd)
        inputStart = 0
        inputEnd = try file.read(into: input.baseAddress!, count: input.count)
        if inputEnd == 0 { inputExhausted = true }
    }
}

/// Runs a `StreamDecompressor` on a thread of its own, a few fixed-size blocks ahead of the reader,
/// so decompression (about half of a report's work) overlaps decoding on a second core. The blocks
/// come out in stream order, each with the decompressor's position after it.
final class DecompressionPipeline: @unchecked Sendable {
    /// Decompressed bytes per block.
    static let blockSize = 256 * 1024
    /// Blocks in flight (memory: `blockCount × blockSize`).
    static let blockCount = 4

    /// Whether readers of files use a decompression thread: yes when more than one CPU is online,
    /// unless `HVTRACE_SINGLE_THREAD=1` asks for everything on the calling thread (to measure
    /// single-core throughput).
    static var isEnabled: Bool {
        if let value = getenv("HVTRACE_SINGLE_THREAD"), String(cString: value) == "1" { return false }
        return sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1
    }

    /// One filled block.
    struct Block {
        var bytes: UnsafeRawBufferPointer
        var position: DecompressionPosition
        /// The last block: the stream ended or failed after it.
        var isLast: Bool
    }

    private let decompressor: StreamDecompressor
    private let storage: UnsafeMutableRawBufferPointer
    /// Per block: the bytes filled, the decompressor's position after them, and whether it is the last.
    private var blockStates = [(count: Int, position: DecompressionPosition, isLast: Bool)](
        repeating: (0, DecompressionPosition(), false), count: blockCount)
    /// Next block the reader takes / the producer fills, and how many are filled and not yet released.
    private var head = 0
    private var tail = 0
    private var filled = 0
    private var cancelled = false
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var thread = pthread_t()

    /// Starts the thread; from now on only it touches `decompressor`.
    init(decompressor: StreamDecompressor) {
        self.decompressor = decompressor
        storage = .allocate(byteCount: Self.blockSize * Self.blockCount, alignment: 64)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let pipeline = Unmanaged<DecompressionPipeline>.fromOpaque(context!).takeRetainedValue()
            pipeline.produce()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed: \(status)")
    }

    /// Stops the thread (it may be waiting for a free block) and waits for it.
    func stop() {
        pthread_mutex_lock(&mutex)
        cancelled = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        pthread_join(thread, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
        storage.deallocate()
    }

    private func block(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(index * Self.blockSize)..<((index + 1) * Self.blockSize)])
    }

    /// The thread: fill free blocks in order until the stream ends, fails or the reader stops.
    private func produce() {
        while true {
            pthread_mutex_lock(&mutex)
            while filled == Self.blockCount && !cancelled { pthread_cond_wait(&changed, &mutex) }
            if cancelled {
                pthread_mutex_unlock(&mutex)
                return
            }
            let index = tail
            pthread_mutex_unlock(&mutex)

            let count = decompressor.fill(block(index))
            let isLast = decompressor.finished

            pthread_mutex_lock(&mutex)
            blockStates[index] = (count, decompressor.position, isLast)
            tail = (tail + 1) % Self.blockCount
            filled += 1
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
            if isLast { return }
        }
    }

    /// The next block in stream order (waits for it). Hand it back with `release()` before the next.
    func next() -> Block {
        pthread_mutex_lock(&mutex)
        while filled == 0 { pthread_cond_wait(&changed, &mutex) }
        let index = head
        let state = blockStates[index]
        let result = Block(bytes: UnsafeRawBufferPointer(rebasing: block(index)[0..<state.count]),
                           position: state.position, isLast: state.isLast)
        pthread_mutex_unlock(&mutex)
        return result
    }

    /// Frees the block `next()` returned for the producer.
    func release() {
        pthread_mutex_lock(&mutex)
        head = (head + 1) % Self.blockCount
        filled -= 1
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}

/// A sliding window over the decompressed stream: `require(n)` makes n bytes available at
/// `available`, `consume(n)` drops them. Fixed capacity; nothing grows with the file.
final class DecompressedWindow {
    private let decompressor: StreamDecompressor
    /// Decompress on a thread of our own (started at the first `require`, after the file-type checks).
    private let pipelined: Bool
    private var pipeline: DecompressionPipeline?
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// The decompressor's position after the bytes in the window so far.
    private var position = DecompressionPosition()
    /// No more bytes will come.
    private var exhausted = false
    /// Stream offset of `buffer[start]`.
    private(set) var streamOffset: UInt64 = 0

    /// `fileOffset`, `streamOffset`: where `file`'s first byte is in the file and in the stream.
    init(file: any CompressedInput, capacity: Int, pipelined: Bool, fileOffset: UInt64 = 0,
         streamOffset: UInt64 = 0) throws(TraceFileError.Reason) {
        decompressor = try StreamDecompressor(file: file, fileOffset: fileOffset)
        self.streamOffset = streamOffset
        self.pipelined = pipelined
        buffer = .allocate(byteCount: capacity, alignment: 16)
        position = decompressor.position
    }

    deinit {
        pipeline?.stop()
        buffer.deallocate()
    }

    /// The decompressed bytes available now.
    var available: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }
    /// Compressed bytes consumed by the decompressor so far (= file offset of the next byte it reads).
    var compressedFileOffset: UInt64 { position.compressedFileOffset }
    /// Stream offset just past the last decompressed byte.
    var streamOffsetOfEnd: UInt64 { streamOffset + UInt64(end - start) }
    var endedInsideFrame: Bool { position.endedInsideFrame }
    var failure: StreamFailure? { position.failure }

    /// The first compressed bytes not yet decompressed (for file-type checks before any decoding).
    func peekCompressed(count: Int) -> [UInt8] {
        precondition(pipeline == nil, "peek after decompression started")
        return decompressor.peekCompressed(count: count)
    }

    func consume(_ count: Int) {
        start += count
        streamOffset += UInt64(count)
    }

    /// Makes at least `count` bytes available; false when the stream ends (or fails) first.
    func require(_ count: Int) -> Bool {
        precondition(count <= buffer.count, "window smaller than a chunk")
        while end - start < count {
            if exhausted { return false }
            // Slide what is left to the front only when the tail is short of room: a chunk at a time
            // would copy every byte once more.
            let minimumRoom = max(count - (end - start), DecompressionPipeline.blockSize)
            if buffer.count - end < minimumRoom && start > 0 {
                if end > start {
                    buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
                }
                end -= start
                start = 0
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer[end...])
            if pipelined {
                if pipeline == nil { pipeline = DecompressionPipeline(decompressor: decompressor) }
                let block = pipeline!.next()
                // The window keeps at least one block of room (capacity ≥ largest chunk + a block).
                precondition(block.bytes.count <= room.count, "window has no room for a block")
                if let source = block.bytes.baseAddress, block.bytes.count > 0 {
                    room.baseAddress!.copyMemory(from: source, byteCount: block.bytes.count)
                }
                end += block.bytes.count
                position = block.position
                exhausted = block.isLast
                pipeline!.release()
            } else {
                end += decompressor.fill(room)
                position = decompressor.position
                exhausted = decompressor.finished
            }
        }
        return true
    }
}

/// Whether readers of `.hvt` files decompress on a thread of their own (for tools that report
/// which way they measured).
public enum DecompressionThread {
    public static var isEnabled: Bool { DecompressionPipeline.isEnabled }
}

// Thin wrappers over libzstd's streaming API (zstd.h, "Streaming compression - HowTo" and
// "Streaming decompression - HowTo"). Only the trace file writer and reader use them.

import CZstd

/// A zstd error code turned into its library message.
func zstdErrorName(_ code: Int) -> String {
    String(cString: ZSTD_getErrorName(code))
}

/// Streams bytes into zstd frames. Not thread-safe; one per writer.
final class ZstdCompressor {
    private let context: OpaquePointer
    /// Compressed output waiting to be written (one recommended output block).
    let outputCapacity = ZSTD_CStreamOutSize()
    let output: UnsafeMutableRawPointer

    /// `level` is zstd's compression level (1...19); the frame carries a content checksum so
    /// storage corruption is detected at the end of every frame.
    init(level: Int32) throws(TraceFileError.Reason) {
        guard let context = ZSTD_createCStream() else { throw .compression("ZSTD_createCStream failed") }
        self.context = context
        output = UnsafeMutableRawPointer.allocate(byteCount: outputCapacity, alignment: 16)
        for (parameter, value) in [(ZSTD_c_compressionLevel, level), (ZSTD_c_checksumFlag, 1)] {
            let result = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(result) != 0 { throw .compression(zstdErrorName(result)) }
        }
    }

    deinit {
        ZSTD_freeCStream(context)
        output.deallocate()
    }

    /// How far to push the compressed data: keep buffering, complete the current block, or finish the frame.
    enum Mode {
        case `continue`, flush, end

        var directive: ZSTD_EndDirective {
            switch self {
            case .continue: return ZSTD_e_continue
            case .flush: return ZSTD_e_flush
            case .end: return ZSTD_e_end
            }
        }
    }

    /// Compresses `input` into `file`. Returns the compressed bytes written.
    func compress(_ input: UnsafeRawBufferPointer, mode: Mode, into file: PosixFile) throws(TraceFileError.Reason) -> Int {
        var written = 0
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var outBuffer = ZSTD_outBuffer(dst: output, size: outputCapacity, pos: 0)
            let remaining = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode.directive)
            if ZSTD_isError(remaining) != 0 { throw .compression(zstdErrorName(remaining)) }
            if outBuffer.pos > 0 {
                try file.write(UnsafeRawBufferPointer(start: output, count: outBuffer.pos))
                written += outBuffer.pos
            }
            // continue: done once all input is taken; flush/end: done once nothing is left inside.
            if mode == .continue ? inBuffer.pos == inBuffer.size : remaining == 0 { return written }
        }
    }
}

/// Streams zstd frames back into bytes. One per reader.
final class ZstdDecompressor {
    private let context: OpaquePointer
    /// Whether the last call left a frame unfinished (input ended inside it = truncation).
    private(set) var insideFrame = false

    init() throws(TraceFileError.Reason) {
        guard let context = ZSTD_createDStream() else { throw .compression("ZSTD_createDStream failed") }
        self.context = context
        let result = ZSTD_initDStream(context)
        if ZSTD_isError(result) != 0 { throw .compression(zstdErrorName(result)) }
    }

    deinit { ZSTD_freeDStream(context) }

    /// The recommended input block size.
    static var recommendedInputSize: Int { ZSTD_DStreamInSize() }

    /// Decompresses from `input` (advancing `inputPosition`) into `output`; returns the bytes
    /// produced, or a zstd error message.
    func decompress(input: UnsafeRawBufferPointer, inputPosition: inout Int,
                    output: UnsafeMutableRawBufferPointer) -> Result<Int, DecompressionFailure> {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: inputPosition)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
        inputPosition = inBuffer.pos
        if ZSTD_isError(result) != 0 { return .failure(DecompressionFailure(message: zstdErrorName(result))) }
        insideFrame = result != 0
        return .success(outBuffer.pos)
    }
}

/// libzstd rejected the compressed bytes.
struct DecompressionFailure: Error {
    var message: String
}

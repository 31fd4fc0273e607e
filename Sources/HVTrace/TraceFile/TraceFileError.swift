// Errors that stop a trace file from being opened, written or read. Problems found inside an
// otherwise readable file (corrupt pages, truncation) are not errors: they are counted in
// `DecodeDiagnostics` and the decoder goes on.

/// A trace file could not be opened, written or read. The description names the file, the byte
/// offset and what to do about it, in one line.
public struct TraceFileError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file concerned.
    public var path: String
    /// What went wrong.
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// One case per failure. "File byte" offsets count compressed bytes on disk; "stream offset"
    /// counts bytes of the decompressed stream (FORMAT.md, "The .hvt file").
    public enum Reason: Error, Equatable, Sendable {
        /// open(2)/read(2)/write(2)/rename(2) failed; the text is strerror's.
        case system(operation: String, message: String)
        /// The file has no bytes at all.
        case empty
        /// The file does not start with a zstd frame, so it is not an .hvt file.
        case notZstd(firstBytes: [UInt8])
        /// libzstd rejected the compressed data (flipped bits, overwritten blocks).
        case corruptCompressedData(fileOffset: UInt64, zstdMessage: String)
        /// The file ends before its header is complete.
        case truncatedHeader(fileOffset: UInt64, streamOffset: UInt64)
        /// The decompressed stream does not start with the .hvt magic.
        case badMagic(found: UInt64)
        /// The file (or its region header) was written by an incompatible format version.
        case unsupportedVersion(what: String, major: UInt16, minor: UInt16)
        /// A header field is impossible.
        case invalidHeader(streamOffset: UInt64, detail: String)
        /// libzstd could not set up or compress.
        case compression(String)
        /// The writer was used after `close()` or after an earlier failure.
        case writerClosed
    }

    public var description: String {
        switch reason {
        case let .system(operation, message):
            return "\(path): \(operation) failed: \(message)"
        case .empty:
            return "\(path): empty file (0 bytes): not an .hvt trace; record one again or check the copy"
        case let .notZstd(firstBytes):
            let hex = firstBytes.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined(separator: " ")
            return "\(path): not an .hvt trace: byte 0 should start a zstd frame (28 b5 2f fd) but holds \(hex)"
        case let .corruptCompressedData(fileOffset, zstdMessage):
            return "\(path): compressed data corrupt in the \(StreamDecompressor.inputSlice) bytes from file byte \(fileOffset) (zstd: \(zstdMessage)); the file was damaged after it was written"
        case let .truncatedHeader(fileOffset, streamOffset):
            return "\(path): file ends at byte \(fileOffset) inside the trace header (stream offset \(streamOffset)): the recording was cut short; nothing can be decoded"
        case let .badMagic(found):
            return "\(path): not an .hvt trace: stream offset 0 holds magic 0x\(hex(found, digits: 16)), expected 0x\(hex(TraceFileLayout.magic, digits: 16)) (\"HVTFILE\\0\")"
        case let .unsupportedVersion(what, major, minor):
            return "\(path): \(what) version \(major).\(minor) is not supported by this hvtrace (reads \(TraceFileLayout.majorVersion).x): update hvtrace"
        case let .invalidHeader(streamOffset, detail):
            return "\(path): invalid trace header at stream offset \(streamOffset): \(detail)"
        case let .compression(message):
            return "\(path): zstd failed: \(message)"
        case .writerClosed:
            return "\(path): trace writer already closed"
        }
    }
}

/// The name the contract between the format and analysis code uses for decode-time errors.
public typealias TraceDecodeError = TraceFileError

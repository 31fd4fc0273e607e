// Minimal POSIX file access for the trace container (no Foundation file handles in the hot path).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// The current errno as text.
func systemErrorMessage() -> String { String(cString: strerror(errno)) }

/// Where a reader's compressed bytes come from: a file, or bytes already in memory.
protocol CompressedInput: AnyObject {
    /// Reads up to `count` bytes into `buffer`; 0 at the end of the input.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int
}

/// A whole input readable at any offset: what the frame list (seek index or scan) and the
/// per-frame readers of parallel analysis need.
protocol RandomAccessInput: AnyObject {
    /// Bytes in the input (fixed when it was opened).
    var size: UInt64 { get }
    /// Reads up to `count` bytes at `offset` into `buffer`; fewer only at the end of the input.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int
}

extension RandomAccessInput {
    /// `count` bytes at `offset`, or an error when fewer are there.
    func bytes(at offset: UInt64, count: Int) throws(TraceFileError.Reason) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = try result.withUnsafeMutableBytes { raw in
                Result { () throws(TraceFileError.Reason) in
                    try read(at: offset + UInt64(done), into: raw.baseAddress! + done, count: count - done)
                }
            }.get()
            if got == 0 { throw .system(operation: "read", message: "end of file at byte \(offset + UInt64(done))") }
            done += got
        }
        return result
    }
}

/// Reads one byte range of a random-access input in order (the compressed bytes of one frame, or
/// of everything from a frame to the end of the file).
final class RangeInput: CompressedInput {
    private let base: RandomAccessInput
    private var position: UInt64
    private let end: UInt64

    init(_ base: RandomAccessInput, from start: UInt64, to end: UInt64) {
        self.base = base
        position = start
        self.end = min(end, base.size)
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int {
        guard position < end else { return 0 }
        let length = Int(min(UInt64(count), end - position))
        let got = try base.read(at: position, into: buffer, count: length)
        position += UInt64(got)
        return got
    }
}

/// Compressed bytes held in memory (fuzzing, tests, data that did not come from a file).
final class MemoryInput: CompressedInput, RandomAccessInput {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var size: UInt64 { UInt64(bytes.count) }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int {
        guard offset < UInt64(bytes.count) else { return 0 }
        let length = min(count, bytes.count - Int(offset))
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: length) }
        return length
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int {
        let length = min(count, bytes.count - position)
        if length > 0 {
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + position, byteCount: length) }
            position += length
        }
        return length
    }
}

/// An open file descriptor, closed on deinit.
final class PosixFile: CompressedInput, RandomAccessInput {
    let descriptor: Int32
    let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// The size of the file at `path` in bytes; nil when stat(2) fails (errno says why).
    static func size(atPath path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_size) : nil
    }

    static func openForReading(_ path: String) throws(TraceFileError) -> PosixFile {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw TraceFileError(path: path, reason: .system(operation: "open", message: systemErrorMessage()))
        }
        return PosixFile(descriptor: descriptor, path: path)
    }

    static func create(_ path: String) throws(TraceFileError) -> PosixFile {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw TraceFileError(path: path, reason: .system(operation: "create", message: systemErrorMessage()))
        }
        return PosixFile(descriptor: descriptor, path: path)
    }

    /// The file's size when first asked (fstat(2); 0 if that fails): a reader's view of a file
    /// that may still grow stays fixed.
    lazy var size: UInt64 = {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? UInt64(info.st_size) : 0
    }()

    /// Reads up to `count` bytes at `offset` (pread(2): no shared file position, so readers on
    /// several threads may share the descriptor); 0 at end of file.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int {
        while true {
            let result = pread(descriptor, buffer, count, off_t(offset))
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw .system(operation: "read", message: systemErrorMessage())
        }
    }

    /// Reads up to `count` bytes; 0 at end of file.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(TraceFileError.Reason) -> Int {
        while true {
            let result = systemRead(descriptor, buffer, count)
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw .system(operation: "read", message: systemErrorMessage())
        }
    }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TraceFileError.Reason) {
        var written = 0
        while written < bytes.count {
            let result = systemWrite(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", message: systemErrorMessage())
            }
            written += result
        }
    }

    func sync() throws(TraceFileError.Reason) {
        if fsync(descriptor) != 0 { throw .system(operation: "fsync", message: systemErrorMessage()) }
    }
}

/// Renames `from` to `to` atomically (same directory).
func renameFile(from: String, to: String) throws(TraceFileError) {
    if rename(from, to) != 0 {
        throw TraceFileError(path: to, reason: .system(operation: "rename from \(from)", message: systemErrorMessage()))
    }
}

func removeFile(_ path: String) { unlink(path) }

func currentProcessID() -> Int32 { getpid() }

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

/// Compressed bytes held in memory (fuzzing, tests, data that did not come from a file).
final class MemoryInput: CompressedInput {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

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
final class PosixFile: CompressedInput {
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

// An output file that appears under its name only when complete: bytes go to a temporary file
// beside it (buffered), `commit` fsyncs and renames it into place; on any error, or without a
// commit, nothing is left at either name. Every command that writes `-o PATH` goes through it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer to `path` through a temporary file and a rename.
public final class AtomicOutputFile {
    public let path: String
    let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var failure: String?
    /// Bytes handed to `write` so far.
    public private(set) var bytesWritten: UInt64 = 0
    static let bufferSize = 1 << 20

    /// Creates the temporary file beside `path`.
    public init(path: String) throws(AnalysisInputError) {
        self.path = path
        temporaryPath = path + ".partial-\(getpid())"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .unwritable(file: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(Self.bufferSize)
    }

    deinit {
        // Not committed: leave nothing behind.
        if descriptor >= 0 {
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(bytes: $0) }
    }

    public func write(bytes: UnsafeBufferPointer<UInt8>) {
        bytesWritten &+= UInt64(bytes.count)
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.bufferSize { flushBuffer() }
    }

    public func write(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { write(bytes: $0) } }

    private func flushBuffer() {
        guard failure == nil else {
            buffer.removeAll(keepingCapacity: true)
            return
        }
        buffer.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let result = Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += result
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, fsyncs and renames the file into place. Throws (and removes the
    /// temporary file) if any write failed.
    public func commit() throws(AnalysisInputError) {
        flushBuffer()
        if failure == nil && fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        if close(descriptor) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        descriptor = -1
        if failure == nil && rename(temporaryPath, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporaryPath)
            throw .unwritable(file: path, reason: failure)
        }
    }

    /// Gives up: removes the temporary file.
    public func abandon() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(temporaryPath)
    }
}

// Reads a text file a line at a time through one fixed buffer: memory stays the same whatever the
// file's size (captures of KVM guests run to gigabytes).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands each line (without "\n" or "\r\n") to a closure, with its 1-based number.
struct LineReader {
    static let bufferSize = 1 << 20
    let path: String

    /// Lines longer than the buffer are passed on cut at the buffer's size (they are no ftrace
    /// line: those are a few hundred bytes at most).
    func forEachLine(_ body: (Int, UnsafeBufferPointer<UInt8>) throws(ImportError) -> Void) throws(ImportError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw ImportError(path: path, reason: .unreadable(operation: "open", message: String(cString: strerror(errno))))
        }
        defer { close(descriptor) }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.bufferSize)
        defer { buffer.deallocate() }
        var filled = 0
        var lineNumber = 0
        var skippingOverlong = false
        while true {
            let count = read(descriptor, buffer + filled, Self.bufferSize - filled)
            if count < 0 {
                if errno == EINTR { continue }
                throw ImportError(path: path, line: lineNumber + 1,
                                  reason: .unreadable(operation: "read", message: String(cString: strerror(errno))))
            }
            let end = filled + count
            var start = 0
            var index = filled
            while index < end {
                if buffer[index] == 10 {
                    if skippingOverlong {
                        skippingOverlong = false
                    } else {
                        lineNumber += 1
                        var length = index - start
                        if length > 0 && buffer[start + length - 1] == 13 { length -= 1 }
                        try body(lineNumber, UnsafeBufferPointer(start: buffer + start, count: length))
                    }
                    start = index + 1
                }
                index += 1
            }
            if count == 0 {
                if start < end && !skippingOverlong {
                    lineNumber += 1
                    var length = end - start
                    if buffer[end - 1] == 13 { length -= 1 }
                    try body(lineNumber, UnsafeBufferPointer(start: buffer + start, count: length))
                }
                return
            }
            if start == 0 && end == Self.bufferSize {
                // One line fills the whole buffer: pass its first part on, drop the rest.
                if !skippingOverlong {
                    lineNumber += 1
                    try body(lineNumber, UnsafeBufferPointer(start: buffer, count: end))
                }
                skippingOverlong = true
                filled = 0
                continue
            }
            // Keep the unfinished line for the next read.
            let remainder = end - start
            if remainder > 0 && start > 0 { memmove(buffer, buffer + start, remainder) }
            filled = remainder
        }
    }
}

// Why `hvtrace import` could not import a file. Every case names the file; malformed lines also
// the line and column (1-based), so an editor can jump there.

/// A failed import: nothing is written under the output name.
public struct ImportError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// A line of an event hvtrace maps does not have that event's format.
        case malformedEvent(event: String, expected: String)
        /// open(2)/read(2) failed.
        case unreadable(operation: String, message: String)
        /// The file holds no kvm_exit or kvm_entry event (so no vCPU, no exits).
        case noKVMEvents(lines: Int)
        /// More vCPU threads than a trace region holds rings.
        case tooManyVCPUThreads(found: Int, limit: Int)
        /// `--event-ids` could not be read.
        case badEventIDs(detail: String)
        /// Writing the .hvt file failed.
        case output(message: String)
    }

    public var path: String
    public var line: Int?
    public var column: Int?
    public var reason: Reason

    public init(path: String, line: Int? = nil, column: Int? = nil, reason: Reason) {
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        var location = path
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        switch reason {
        case let .malformedEvent(event, expected):
            return "\(location): malformed \(event) line: expected \(expected) (is this \(event)'s format? hvtrace reads Linux 4.19-6.x and trace-cmd report text)"
        case let .unreadable(operation, message):
            return "\(location): cannot \(operation): \(message)"
        case let .noKVMEvents(lines):
            return "\(location): no kvm_exit or kvm_entry event in \(lines) lines; record with the kvm:kvm_exit and kvm:kvm_entry events enabled"
        case let .tooManyVCPUThreads(found, limit):
            return "\(location): \(found) vCPU threads, at most \(limit) fit one .hvt file; split the capture by process"
        case let .badEventIDs(detail):
            return "--event-ids: \(detail) (expected NAME=ID,… or a file of `NAME ID` lines, e.g. from events/kvm/*/id)"
        case let .output(message):
            return message
        }
    }
}

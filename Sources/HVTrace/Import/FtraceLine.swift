// One line of Linux ftrace text output, taken apart without copying: the `trace` and `trace_pipe`
// files (any trace_clock, irq-info on or off, record-tgid on or off, options/raw), and
// `trace-cmd report` (with or without -t). Kernel: kernel/trace/trace_output.c
// (trace_print_context, print_raw_fmt, lost-events lines in trace.c print_trace_line); trace-cmd:
// lib/trace-cmd/trace-input.c and tracecmd/trace-read.c.
//
//   <comm>-<pid> [(<tgid>)] [<cpu>] [<flags>] <timestamp>: <event>: <fields>      event line
//   <pid> <cpu> <timestamp> type: <id>                                          options/raw
//   CPU:<n> [LOST <count> EVENTS]      CPU:<n> [LOST EVENTS]      [LOST <count> EVENTS]
//   CPU:<n> [<count> EVENTS DROPPED]                                            trace-cmd
//   # …  (the trace file's header; "entries-in-buffer/entries-written: A/B #P:N")
//   cpus=<n>, version = <n>, CPU <n> is empty                                   trace-cmd's header

/// A line's bytes and a read position; columns are 1-based byte positions (what an editor shows
/// for ASCII, and ftrace text is ASCII).
struct LineCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var column: Int { index + 1 }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpaces() {
        while index < bytes.count && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
    }

    /// Consumes `literal` if the bytes here are exactly it.
    mutating func take(_ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard index + length <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            (0..<length).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        if matches { index += length }
        return matches
    }

    /// Does the rest of the line start with `literal`?
    func starts(with literal: StaticString) -> Bool {
        var copy = self
        return copy.take(literal)
    }

    /// An unsigned decimal number.
    mutating func decimal() -> UInt64? {
        let start = index
        var value: UInt64 = 0
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
            if o1 || o2 { index = start; return nil }
            value = sum
            index += 1
        }
        return index > start ? value : nil
    }

    /// A signed decimal number.
    mutating func signedDecimal() -> Int64? {
        let negative = take("-")
        guard let magnitude = decimal(), magnitude <= UInt64(Int64.max) else { return nil }
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }

    /// A hexadecimal number, with or without a `0x` prefix.
    mutating func hexadecimal() -> UInt64? {
        let start = index
        _ = take("0x") || take("0X")
        let digits = index
        var value: UInt64 = 0
        while index < bytes.count, let digit = Self.hexValue(bytes[index]) {
            guard index - digits < 16 else { index = start; return nil }
            value = value << 4 | UInt64(digit)
            index += 1
        }
        guard index > digits else { index = start; return nil }
        return value
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x61...0x66: return byte - 0x61 + 10
        case 0x41...0x46: return byte - 0x41 + 10
        default: return nil
        }
    }

    /// The bytes up to (not including) the next space or the end.
    mutating func word() -> UnsafeBufferPointer<UInt8> {
        let start = index
        while index < bytes.count && bytes[index] != 0x20 && bytes[index] != 0x09 { index += 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<index])
    }

    /// The rest of the line.
    var rest: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[min(index, bytes.count)...]) }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The bytes as text (for names, messages and diagnostics: never in the per-event path).
    var text: String { String(decoding: self, as: UTF8.self) }

    func equals(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in count == expected.count && elementsEqual(expected) }
    }
}

/// What kind of line a line is, and for event lines where its parts are.
enum FtraceLine {
    /// An event: who, where, when, which event, and its formatted fields.
    case event(FtraceEventLine)
    /// An `options/raw` line: pid, CPU, timestamp and the event's numeric type (no fields).
    case rawEvent(pid: Int32, cpu: Int, timestamp: FtraceTimestamp, type: UInt32)
    /// Events the ring buffer dropped on `cpu` (nil: unknown CPU); `count` nil: unknown number.
    case lost(cpu: Int?, count: UInt64?)
    /// The trace file's "entries-in-buffer/entries-written: A/B   #P:N" header line.
    case entriesHeader(inBuffer: UInt64, written: UInt64, cpus: Int?)
    /// trace-cmd report's "cpus=N".
    case traceCmdCPUs(Int)
    /// A header or comment line that says nothing about events (`# tracer: nop`, column legends,
    /// trace-cmd's "version = 6", "CPU 1 is empty").
    case header
    case blank
    /// Nothing this reader knows.
    case unknown
}

/// A timestamp as printed: seconds with a fraction (`1002.949123`, `5.717625912`) or a plain
/// integer (non-nanosecond clocks such as `counter` or `uptime`, and options/raw).
struct FtraceTimestamp: Equatable {
    /// Nanoseconds (fractional form), or the raw integer.
    var value: UInt64
    /// Digits after the decimal point (0 for the integer form): 6 = microsecond text, 9 = trace-cmd -t.
    var fractionDigits: Int
}

/// The parts of an event line. `fields` is the event's own text (after "name: " and padding).
struct FtraceEventLine {
    var comm: UnsafeBufferPointer<UInt8>
    var pid: Int32
    var tgid: Int32?
    var cpu: Int
    var timestamp: FtraceTimestamp
    var event: UnsafeBufferPointer<UInt8>
    var fields: LineCursor
}

enum FtraceLineParser {
    /// Classifies one line (without its line end).
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> FtraceLine {
        var cursor = LineCursor(line)
        cursor.skipSpaces()
        guard let first = cursor.current else { return .blank }
        if first == UInt8(ascii: "#") { return header(cursor) }
        if cursor.starts(with: "CPU:") || cursor.starts(with: "[LOST") { return lost(cursor) ?? .unknown }
        if cursor.take("cpus=") {
            if let cpus = cursor.decimal(), cursor.atEnd { return .traceCmdCPUs(Int(cpus)) }
            return .unknown
        }
        if cursor.starts(with: "version = ") { return .header }
        if let event = eventLine(line) { return .event(event) }
        if first >= 0x30 && first <= 0x39, let raw = rawLine(cursor) { return raw }
        if cursor.take("CPU "), cursor.decimal() != nil, cursor.take(" is empty"), cursor.atEnd { return .header }
        return .unknown
    }

    /// `# entries-in-buffer/entries-written: 334/5150   #P:2`, or another header line.
    static func header(_ start: LineCursor) -> FtraceLine {
        var cursor = start
        _ = cursor.take("#")
        cursor.skipSpaces()
        guard cursor.take("entries-in-buffer/entries-written:") else { return .header }
        cursor.skipSpaces()
        guard let inBuffer = cursor.decimal(), cursor.take("/"), let written = cursor.decimal() else { return .header }
        cursor.skipSpaces()
        var cpus: Int?
        if cursor.take("#P:"), let count = cursor.decimal() { cpus = Int(count) }
        return .entriesHeader(inBuffer: inBuffer, written: written, cpus: cpus)
    }

    /// The lost-events lines of trace_pipe, trace and trace-cmd report.
    static func lost(_ start: LineCursor) -> FtraceLine? {
        var cursor = start
        var cpu: Int?
        if cursor.take("CPU:") {
            guard let number = cursor.decimal() else { return nil }
            cpu = Int(number)
            cursor.skipSpaces()
        }
        guard cursor.take("[") else { return nil }
        if cursor.take("LOST") {
            cursor.skipSpaces()
            if cursor.take("EVENTS]") { return cursor.atEnd ? .lost(cpu: cpu, count: nil) : nil }
            guard let count = cursor.decimal() else { return nil }
            cursor.skipSpaces()
            return cursor.take("EVENTS]") && cursor.atEnd ? .lost(cpu: cpu, count: count) : nil
        }
        guard let count = cursor.decimal() else { return nil }
        cursor.skipSpaces()
        return cursor.take("EVENTS DROPPED]") && cursor.atEnd ? .lost(cpu: cpu, count: count) : nil
    }

    /// `97 0 859210064 type: 54` (options/raw with context-info).
    static func rawLine(_ start: LineCursor) -> FtraceLine? {
        var cursor = start
        guard let pid = cursor.decimal(), pid <= UInt64(Int32.max), cursor.take(" "),
              let cpu = cursor.decimal(), cpu < 1 << 16, cursor.take(" "),
              let timestamp = cursor.decimal(), cursor.take(" type: "), let type = cursor.decimal(),
              type <= UInt64(UInt32.max), cursor.atEnd else { return nil }
        return .rawEvent(pid: Int32(pid), cpu: Int(cpu), timestamp: FtraceTimestamp(value: timestamp, fractionDigits: 0),
                         type: UInt32(type))
    }

    /// An event line, found from its CPU field: the first ` [digits]` with the task (`comm-pid`,
    /// optionally `(tgid)`) before it and the timestamp, event name and fields after it.
    static func eventLine(_ line: UnsafeBufferPointer<UInt8>) -> FtraceEventLine? {
        var open = 1
        var cpuRange: (Int, Int, Int)?  // '[' index, ']' index, CPU number
        while open < line.count {
            if line[open] == UInt8(ascii: "[") && line[open - 1] == 0x20 {
                var close = open + 1
                var number = 0
                while close < line.count, line[close] >= 0x30, line[close] <= 0x39, close - open < 7 {
                    number = number * 10 + Int(line[close] - 0x30)
                    close += 1
                }
                if close > open + 1, close < line.count, line[close] == UInt8(ascii: "]") {
                    cpuRange = (open, close, number)
                    break
                }
            }
            open += 1
        }
        guard let (bracket, closing, cpu) = cpuRange else { return nil }
        // The task: trim, drop a "(tgid)" group, split at the last '-' before the pid digits.
        var end = bracket
        while end > 0 && line[end - 1] == 0x20 { end -= 1 }
        var tgid: Int32?
        if end > 0 && line[end - 1] == UInt8(ascii: ")") {
            guard let groupOpen = line[..<end].lastIndex(of: UInt8(ascii: "(")) else { return nil }
            var inside = LineCursor(UnsafeBufferPointer(rebasing: line[(groupOpen + 1)..<(end - 1)]))
            inside.skipSpaces()
            if let value = inside.decimal(), value <= UInt64(Int32.max) { tgid = Int32(value) }
            end = groupOpen
            while end > 0 && line[end - 1] == 0x20 { end -= 1 }
        }
        var pidStart = end
        while pidStart > 0, line[pidStart - 1] >= 0x30, line[pidStart - 1] <= 0x39 { pidStart -= 1 }
        guard pidStart < end, pidStart > 0, line[pidStart - 1] == UInt8(ascii: "-") else { return nil }
        var pid: Int32 = 0
        for index in pidStart..<end {
            let (times, o1) = pid.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int32(line[index] - 0x30))
            guard !o1 && !o2 else { return nil }
            pid = sum
        }
        var commStart = 0
        while commStart < pidStart - 1 && line[commStart] == 0x20 { commStart += 1 }
        let comm = UnsafeBufferPointer(rebasing: line[commStart..<(pidStart - 1)])

        // After "[cpu]": optional irq-info flags, then "<timestamp>:", then "<event>:".
        var cursor = LineCursor(line)
        cursor.index = closing + 1
        cursor.skipSpaces()
        var timestamp = timestampToken(&cursor)
        if timestamp == nil {
            _ = cursor.word()  // flags such as "d.h1." or "....."
            cursor.skipSpaces()
            timestamp = timestampToken(&cursor)
        }
        guard let timestamp else { return nil }
        cursor.skipSpaces()
        let nameStart = cursor.index
        while let byte = cursor.current, byte != UInt8(ascii: ":"), byte != 0x20 { cursor.index += 1 }
        guard cursor.index > nameStart, cursor.current == UInt8(ascii: ":") else { return nil }
        let event = UnsafeBufferPointer(rebasing: line[nameStart..<cursor.index])
        cursor.index += 1
        cursor.skipSpaces()
        return FtraceEventLine(comm: comm, pid: pid, tgid: tgid, cpu: cpu, timestamp: timestamp, event: event, fields: cursor)
    }

    /// `12.345678:` (seconds and a fraction of 1 to 9 digits) or `12345678:`, consumed with its colon.
    static func timestampToken(_ cursor: inout LineCursor) -> FtraceTimestamp? {
        let start = cursor.index
        guard let whole = cursor.decimal() else { return nil }
        var digits = 0
        var fraction: UInt64 = 0
        if cursor.take(".") {
            let fractionStart = cursor.index
            guard let value = cursor.decimal() else { cursor.index = start; return nil }
            digits = cursor.index - fractionStart
            guard digits <= 9 else { cursor.index = start; return nil }
            fraction = value
        }
        guard cursor.take(":") else { cursor.index = start; return nil }
        guard digits > 0 else { return FtraceTimestamp(value: whole, fractionDigits: 0) }
        var scale: UInt64 = 1
        for _ in digits..<9 { scale *= 10 }
        let (seconds, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { cursor.index = start; return nil }
        return FtraceTimestamp(value: seconds + fraction * scale, fractionDigits: digits)
    }
}

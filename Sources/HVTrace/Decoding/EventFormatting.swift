// The text `hvtrace dump` prints: the header block and one line per event.

#if canImport(Foundation)
import Foundation
#endif

/// Formats a trace for people: the header block and event lines in the style of `trace-cmd report`.
public struct TraceTextFormatter {
    public let header: TraceFileHeader
    /// Record-clock ticks of the trace start (the first event); lines show time relative to it.
    public var startTimestamp: UInt64?
    /// The vCPU that last entered on each CPU (from exit_entry), shown on every line of that CPU.
    private var currentVCPU: [UInt16?]

    public init(header: TraceFileHeader) {
        self.header = header
        currentVCPU = Array(repeating: nil, count: Int(header.region.cpuCount))
    }

    /// Nanoseconds for `ticks` record-clock ticks (exact integer arithmetic, rounded down).
    public func nanoseconds(ticks: UInt64) -> UInt64 {
        let frequency = header.region.clockFrequency
        let (high, low) = ticks.multipliedFullWidth(by: 1_000_000_000)
        guard high < frequency else { return .max }
        return frequency.dividingFullWidth((high, low)).quotient
    }

    /// The header block (region parameters and metadata), one `key: value` per line.
    public func headerBlock(path: String) -> String {
        let region = header.region
        var lines = ["hvtrace file: \(path)"]
        lines.append("  format: \(TraceFileLayout.majorVersion).\(header.fileMinorVersion), region format \(region.versionMajor).\(region.versionMinor)")
        lines.append("  clock: \(region.clockSource.name) at \(region.clockFrequency) Hz; page counter at \(region.counterFrequency) Hz")
        lines.append("  rings: \(region.cpuCount) cpus x \(region.pagesPerCPU) pages x \(region.pageSize) bytes, mode \(region.mode.name)")
        lines.append("  region build id: \(hex(region.buildIDHigh, digits: 16))\(hex(region.buildIDLow, digits: 16))")
        lines.append("  guest: \(header.guestName.isEmpty ? "(unknown)" : header.guestName)")
        lines.append("  build id: \(header.buildID.isEmpty ? "(unknown)" : header.buildID)")
        lines.append("  host time: \(hostTimeText)")
        lines.append("  qemu: \(header.qemuCommandLine.isEmpty ? "(unknown)" : header.qemuCommandLine)")
        for entry in header.extra { lines.append("  \(entry.key): \(entry.value)") }
        return lines.joined(separator: "\n")
    }

    private var hostTimeText: String {
        guard header.hostTimeNanoseconds > 0 else { return "(unknown)" }
        #if canImport(Foundation)
        let date = Date(timeIntervalSince1970: Double(header.hostTimeNanoseconds) / 1e9)
        return ISO8601DateFormatter().string(from: date) + " (\(header.hostTimeNanoseconds) ns since 1970)"
        #else
        return "\(header.hostTimeNanoseconds) ns since 1970"
        #endif
    }

    /// The column titles matching `line(for:)`.
    public static let columnTitles = "       time_ns            ticks cpu  vcpu event            fields"

    /// One line: ns since the start, raw ticks, CPU, vCPU, event name and decoded fields.
    public mutating func line(for timed: TimedEvent) -> String {
        let start = startTimestamp ?? timed.timestamp
        if startTimestamp == nil { startTimestamp = start }
        let cpu = Int(timed.cpu)
        if case let .exitEntry(_, _, vcpu) = timed.event, cpu < currentVCPU.count { currentVCPU[cpu] = vcpu }
        let relative = timed.timestamp >= start ? nanoseconds(ticks: timed.timestamp - start) : 0
        let vcpuText = cpu < currentVCPU.count ? currentVCPU[cpu].map(Self.vcpuName) ?? "-" : "-"
        // Built in one buffer: every column is ASCII, so widths are UTF-8 byte counts.
        var line = ""
        line.reserveCapacity(128)
        Self.appendRightAligned(String(relative), width: 14, to: &line)
        line += " "
        Self.appendRightAligned(String(timed.timestamp), width: 16, to: &line)
        line += " "
        Self.appendRightAligned(String(timed.cpu), width: 3, to: &line)
        line += " "
        Self.appendRightAligned(vcpuText, width: 5, to: &line)
        line += " "
        let name = "\(timed.event.id.name)"
        line += name
        let fields = Self.fields(timed.event)
        if fields.isEmpty { return line }
        for _ in name.utf8.count..<max(name.utf8.count, 16) { line += " " }
        return line + " " + fields
    }

    /// Appends `text` right-aligned in `width` columns (ASCII text).
    @inline(__always)
    private static func appendRightAligned(_ text: String, width: Int, to line: inout String) {
        let length = text.utf8.count
        if length < width { for _ in length..<width { line += " " } }
        line += text
    }

    /// "vm.index" from the packed vCPU id (VM in bits 15:8, index in 7:0).
    public static func vcpuName(_ vcpu: UInt16) -> String { "\(vcpu >> 8).\(vcpu & 0xFF)" }

    /// The decoded fields of an event, `key=value` separated by spaces.
    public static func fields(_ event: TraceEvent) -> String {
        switch event {
        case let .exitEntry(ec, iss, vcpu):
            return "reason=\(ExitReasonName.name(ec: ec)) ec=0x\(hex(UInt64(ec), digits: 2)) iss=0x\(hex(UInt64(iss), digits: 7)) vcpu=\(vcpuName(vcpu))"
        case .exitReturn:
            return ""
        case let .hypercall(conduit, immediate, functionID):
            let name = HypercallNames.knownName(functionID).map { " (\($0))" } ?? ""
            return "\(conduit == .hvc ? "hvc" : "smc") #\(immediate) fn=0x\(hex(UInt64(functionID), digits: 8))\(name)"
        case let .hypercallResult(value):
            let name = value <= 0 ? HypercallNames.psciReturnName(value).map { " (\($0))" } ?? "" : ""
            return "x0=\(value)\(name)"
        case let .stage2Fault(ipa, access, outcome):
            return "ipa=0x\(hex(ipa)) \(accessText(access)) outcome=\(outcome.name)"
        case let .mmioAccess(device, offset, access, value):
            let deviceName = MMIODevice(rawValue: device).map { "\($0.name)" } ?? "dev\(device)"
            let register = DeviceRegisterNames.name(device: device, offset: UInt64(offset)).map { " reg=\($0)" } ?? ""
            return "dev=\(deviceName) off=0x\(hex(UInt64(offset)))\(register) \(accessText(access)) value=0x\(hex(value))"
        case let .physicalIRQ(intid):
            return "intid=\(intid)" + (InterruptNames.knownName(intid).map { " (\($0))" } ?? "")
        case let .virtualIRQ(intid, vcpu):
            return "intid=\(intid)" + (InterruptNames.knownName(intid).map { " (\($0))" } ?? "") + " vcpu=\(vcpuName(vcpu))"
        case let .waitForInterrupt(kind):
            return "\(kind.name)"
        case let .sysregTrap(encoding, isWrite):
            return "reg=\(SysregNames.name(encoding)) \(isWrite ? "write" : "read")"
        case let .spanEnter(phase), let .spanLeave(phase):
            return "phase=" + (HandlerPhase(rawValue: phase).map { "\($0.name)" } ?? "phase\(phase)")
        case let .guestMarker(id, value):
            return "id=\(id) value=0x\(hex(value))"
        case let .lostEvents(count):
            return "count=\(count)"
        case let .guestPC(pc):
            return "pc=0x\(hex(pc))"
        }
    }

    static func accessText(_ access: AccessInfo) -> String {
        "\(access.isWrite ? "write" : "read") \(access.sizeInBytes)B" + (access.syndromeValid ? "" : " no-isv")
    }
}

/// What `hvtrace dump` prints, as a library function so tests check the very same text.
public struct TraceDumpOptions: Sendable {
    public var limit: Int?
    public var cpus: Set<UInt16>?
    public var events: Set<String>?
    public var showHeader = true

    public init(limit: Int? = nil, cpus: Set<UInt16>? = nil, events: Set<String>? = nil, showHeader: Bool = true) {
        self.limit = limit
        self.cpus = cpus
        self.events = events
        self.showHeader = showHeader
    }
}

extension EventStream {
    /// Writes the dump of this stream to `output` in pieces (header block, column titles, event
    /// lines); diagnostics are left to the caller (they go to stderr).
    public func dump(path: String, options: TraceDumpOptions, output: (String) -> Void) throws(TraceDecodeError) {
        var formatter = TraceTextFormatter(header: header)
        var text = ""
        if options.showHeader {
            text = formatter.headerBlock(path: path) + "\n\n" + TraceTextFormatter.columnTitles + "\n"
        }
        var printed = 0
        while options.limit.map({ printed < $0 }) ?? true, let timed = try next() {
            // Every event goes through the formatter (it tracks the start and each CPU's vCPU).
            let line = formatter.line(for: timed)
            if let cpus = options.cpus, !cpus.contains(timed.cpu) { continue }
            if let events = options.events, !events.contains("\(timed.event.id.name)") { continue }
            text += line + "\n"
            printed += 1
            if text.utf8.count > 1 << 16 {
                output(text)
                text = ""
            }
        }
        output(text)
    }
}

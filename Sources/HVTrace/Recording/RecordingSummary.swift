// What a recording or snapshot shows the user: a live progress line on a terminal, and a one-screen
// summary at the end (exits by reason, loss, per-CPU accounting).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceFormat
import HypervisorModel

/// The display name of an `exitEntry.ec` value: the ESR_EL2 class name or the asynchronous exit name.
public func exitReasonName(_ ec: UInt8) -> String {
    if let name = ExceptionClass(rawValue: ec)?.name { return "\(name)" }
    if let name = AsynchronousExit(rawValue: ec)?.name { return "\(name)" }
    return "EC_0x" + String(ec, radix: 16)
}

/// A progress line on standard error, at most once a second, only when standard error is a terminal
/// (or `forced`), and only when something changed since the last line.
public struct ProgressLine {
    public let enabled: Bool
    private var lastPrint = 0.0
    private var lastEvents: UInt64 = 0
    private var lastPrinted = ""

    public init(forced: Bool? = nil) {
        enabled = forced ?? (isatty(2) == 1)
    }

    public mutating func update(_ consumer: RingConsumer, now: Double = MonotonicClock.now) {
        guard enabled, now - lastPrint >= 1 else { return }
        let totals = consumer.totalCounters
        var dropped: UInt64 = 0
        for cpu in 0..<consumer.cpuCount { dropped += consumer.ringState(cpu: cpu).lostEvents }
        let rate = lastPrint > 0 ? Double(totals.decodedEvents - lastEvents) / (now - lastPrint) : 0
        let line = "[hvtrace] \(formatCount(totals.decodedEvents)) events (\(formatCount(UInt64(rate)))/s), "
            + "\(formatBytes(totals.bytesCopied)), dropped \(dropped), lost pages \(totals.pagesLost)"
        lastPrint = now
        lastEvents = totals.decodedEvents
        guard line != lastPrinted, totals.decodedEvents > 0 else { return }
        lastPrinted = line
        writeToStandardError("\r\(line)\r\n")
    }
}

func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func formatCount(_ value: UInt64) -> String {
    switch value {
    case ..<10_000: return "\(value)"
    case ..<10_000_000: return "\(value / 1000) k"
    default: return "\(value / 1_000_000) M"
    }
}

func formatBytes(_ value: UInt64) -> String {
    switch value {
    case ..<10_240: return "\(value) B"
    case ..<10_485_760: return "\(value >> 10) KiB"
    default: return "\(value >> 20) MiB"
    }
}

/// Why a recording ended.
public enum RecordingEnd: Equatable, Sendable, CustomStringConvertible {
    /// QEMU exited by itself with status 0: the guest powered off.
    case guestPoweredOff
    /// QEMU exited by itself with another status or a signal (crash, hypervisor panic with -no-reboot).
    case qemuEnded(ProcessTermination)
    /// Ctrl-C, SIGTERM or SIGHUP.
    case interrupted(signal: Int32)
    /// `--timeout` passed.
    case timedOut(seconds: Double)
    /// The producer of a QEMU-less drain finished.
    case producerFinished
    /// QEMU exited 0, but the hypervisor's end status (RunEndStatus) says the guest did not reach
    /// its own end (nil: no end status at all — not this hypervisor, or it never started).
    case hypervisorStopped(RunEndState?)

    public var description: String {
        switch self {
        case .guestPoweredOff: return "guest powered off"
        case let .qemuEnded(termination): return "QEMU \(termination)"
        case let .interrupted(signal): return "interrupted by \(String(cString: strsignal(signal)))"
        case let .timedOut(seconds): return "timed out after \(seconds) s"
        case .producerFinished: return "producer finished"
        case let .hypervisorStopped(state?): return state.summary
        case .hypervisorStopped(nil):
            return "QEMU exited 0 but the hypervisor left no end status at RAM file offset 0x"
                + String(RunEndStatus.ramFileOffset, radix: 16) + " (not this hypervisor, or it never started)"
        }
    }
}

/// The end-of-run summary text.
public enum RecordingSummary {
    /// Renders the summary of what `consumer` drained (at most ~30 lines). `snapshot`: the consumer
    /// started where a live recording stopped, so the producer's totals are not compared with it.
    public static func render(_ consumer: RingConsumer, end: RecordingEnd?, output: String?, seconds: Double?,
                              snapshot: Bool = false) -> String {
        var lines: [String] = []
        let header = consumer.header
        let totals = consumer.totalCounters
        var first = "hvtrace: "
        if let end { first += "\(end); " }
        first += "\(totals.decodedEvents) events in \(totals.pagesCopied) pages (\(formatBytes(totals.bytesCopied)))"
        if let seconds, seconds > 0 { first += " in \(formatSeconds(seconds))" }
        if let output { first += " -> \(output)" }
        lines.append(first)
        lines.append("  region: \(header.cpuCount) CPUs × \(header.pagesPerCPU) pages × \(header.pageSize) B, "
                     + "mode \(header.mode.name), clock \(header.clockSource.name) at \(header.clockFrequency) Hz, "
                     + "build \(hex16(header.buildIDHigh))\(hex16(header.buildIDLow))")

        let exits = consumer.exitsByClass.enumerated().filter { $0.element > 0 }.sorted { $0.element > $1.element }
        let exitTotal = exits.reduce(0) { $0 + $1.element }
        lines.append("  exits: \(exitTotal)")
        for (ec, count) in exits.prefix(12) {
            let share = exitTotal > 0 ? Double(count) * 100 / Double(exitTotal) : 0
            lines.append("    \(pad(exitReasonName(UInt8(ec)), 14)) \(pad(String(count), 10, right: true))  \(formatPercent(share))")
        }
        if exits.count > 12 { lines.append("    … \(exits.count - 12) more reasons") }
        let markers = consumer.eventsByID[Int(EventID.guestMarker.rawValue)]
        if markers > 0 { lines.append("  guest markers: \(markers)") }

        var produced: UInt64 = 0, dropped: UInt64 = 0, inLost: UInt64 = 0, uncommitted: UInt64 = 0
        for cpu in 0..<consumer.cpuCount {
            let a = consumer.accounting(cpu: cpu)
            produced += a.produced
            dropped += a.dropped
            inLost += a.inLostPages
            uncommitted += a.uncommitted
        }
        if snapshot {
            lines.append("  flight recorder: \(totals.pagesCopied) committed pages not yet consumed, "
                         + "\(totals.uncommittedPagesRecovered) open pages with \(totals.uncommittedEventsRecovered) events; "
                         + "producer totals: \(produced) events, \(dropped) dropped; pages lost while copying: \(totals.pagesLost)")
            return lines.joined(separator: "\n")
        }
        let lossy = dropped > 0 || inLost > 0 || totals.pagesLost > 0 || totals.corruptPages > 0
        lines.append((lossy ? "  LOST: " : "  lost: ")
                     + "\(dropped) events dropped (ring full), \(inLost) events in \(totals.pagesLost) lost pages "
                     + "(overwritten \(totals.pagesOverwrittenBeforeCopy), torn \(totals.pagesTornDuringCopy), "
                     + "skipped \(totals.pagesSkipped)), \(totals.corruptPages) corrupt pages")
        if totals.pagesWithDecodeErrors > 0 {
            lines.append("  DECODE ERRORS: \(totals.pagesWithDecodeErrors) pages, \(totals.undecodableEvents) events undecodable")
        }
        if uncommitted > 0 {
            lines.append("  recovered \(uncommitted) events from \(totals.uncommittedPagesRecovered) uncommitted (open) pages")
        }
        if consumer.cpuCount > 1 || lossy {
            for cpu in 0..<consumer.cpuCount {
                let a = consumer.accounting(cpu: cpu)
                lines.append("    cpu\(cpu): produced \(a.produced) = decoded \(a.decoded) + dropped \(a.dropped)"
                             + " + in lost pages \(a.inLostPages)" + (a.overcount > 0 ? "  (OVERCOUNT \(a.overcount))" : ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}

func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

func formatPercent(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) %"
}

func formatSeconds(_ value: Double) -> String {
    let milliseconds = Int((value * 1000).rounded())
    return "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - String(milliseconds % 1000).count))\(milliseconds % 1000) s"
}

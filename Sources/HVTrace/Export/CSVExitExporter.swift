// One CSV row per paired exit, in time order:
//   time_ns,cpu,vcpu,reason,detail,latency_ns,latency_ticks
// time_ns is the entry's time since the trace's first event (as `dump` counts), latency_ns the
// exit's latency (both exact decimals of the trace clock), vcpu `vmN/vcpuM` and detail the
// `report --by` label (hypercall function, device, INTID, system register; empty when none).
// Rows of one CPU come in time order; CPUs are spilled to anonymous temporary files as 32-byte
// records while the trace streams and merged by entry time at the end, so memory stays flat.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An `ExitSink` that writes every paired exit as a CSV row (time-ordered over all CPUs).
public struct CSVExitExporter: ExitSink {
    /// A spilled exit: entry, latency, cpu, vcpu, reason, detail label index.
    struct Record {
        var entry: UInt64
        var latency: UInt64
        var cpu: UInt16
        var vcpu: UInt16
        var reason: UInt16
        var detail: UInt32
    }

    static let recordSize = 32
    static let header = "time_ns,cpu,vcpu,reason,detail,latency_ns,latency_ticks\n"

    let frequency: UInt64
    var spills: [Spill] = []
    var detailLabels: [String] = [""]
    var detailIndex: [String: UInt32] = ["": 0]

    /// One CPU's records on an anonymous temporary file (removed when closed).
    final class Spill {
        let file: UnsafeMutablePointer<FILE>?
        var buffer: [UInt8] = []
        var count = 0

        init() {
            file = tmpfile()
            buffer.reserveCapacity(1 << 16)
        }

        deinit { if let file { fclose(file) } }

        func append(_ record: Record) {
            func put(_ value: UInt64, _ bytes: Int) { for shift in 0..<bytes { buffer.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(shift)))) } }
            put(record.entry, 8)
            put(record.latency, 8)
            put(UInt64(record.cpu), 2)
            put(UInt64(record.vcpu), 2)
            put(UInt64(record.reason), 2)
            put(UInt64(record.detail), 4)
            put(0, 6)
            count += 1
            if buffer.count >= 1 << 16 { flush() }
        }

        func flush() {
            if let file, !buffer.isEmpty { _ = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } }
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public init(clockFrequency: UInt64, cpuCount: Int) {
        frequency = max(1, clockFrequency)
        spills = (0..<max(1, cpuCount)).map { _ in Spill() }
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let cpu = Int(exit.cpu)
        if _slowPath(cpu >= spills.count) { spills += (spills.count...cpu).map { _ in Spill() } }
        let label = exit.detailLabel
        var detail: UInt32 = 0
        if !label.isEmpty {
            if let known = detailIndex[label] {
                detail = known
            } else {
                detail = UInt32(detailLabels.count)
                detailLabels.append(label)
                detailIndex[label] = detail
            }
        }
        spills[cpu].append(Record(entry: exit.entryTimestamp, latency: exit.latency, cpu: exit.cpu, vcpu: exit.vcpu,
                                  reason: exit.reason.rawValue, detail: detail))
    }

    /// Reads one CPU's spill back in order.
    struct SpillReader {
        let spill: Spill
        var buffer = [UInt8](repeating: 0, count: 32 * 2048)
        var available = 0
        var position = 0
        var failed = false

        init(_ spill: Spill) {
            self.spill = spill
            spill.flush()
            if let file = spill.file { rewind(file) }
        }

        mutating func next() -> Record? {
            if position + CSVExitExporter.recordSize > available {
                guard let file = spill.file else { return nil }
                available = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                position = 0
                if available < CSVExitExporter.recordSize {
                    if ferror(file) != 0 { failed = true }
                    return nil
                }
            }
            func get(_ offset: Int, _ bytes: Int) -> UInt64 {
                var value: UInt64 = 0
                for index in 0..<bytes { value |= UInt64(buffer[position + offset + index]) << (8 * UInt64(index)) }
                return value
            }
            let record = Record(entry: get(0, 8), latency: get(8, 8), cpu: UInt16(get(16, 2)), vcpu: UInt16(get(18, 2)),
                                reason: UInt16(get(20, 2)), detail: UInt32(get(22, 4)))
            position += CSVExitExporter.recordSize
            return record
        }
    }

    /// Merges the CPUs' rows by entry time (ties by CPU) into `file`; returns the rows written.
    public mutating func finish(into file: AtomicOutputFile, firstTimestamp: UInt64, clockFrequency: UInt64) throws(ExportError) -> UInt64 {
        file.write(Self.header)
        if spills.contains(where: { $0.file == nil }) { throw .temporaryFile(reason: String(cString: strerror(errno))) }
        var readers = spills.map { SpillReader($0) }
        var heads = readers.indices.map { readers[$0].next() }
        let origin = firstTimestamp == .max ? 0 : firstTimestamp
        var rows: UInt64 = 0
        var line = ""
        while true {
            var best = -1
            for (index, head) in heads.enumerated() {
                guard let head else { continue }
                if best < 0 || head.entry < heads[best]!.entry { best = index }
            }
            guard best >= 0, let record = heads[best] else { break }
            let entry = record.entry >= origin ? record.entry - origin : 0
            line.removeAll(keepingCapacity: true)
            line += TickUnits.decimal(entry, frequency: frequency, exponent: 9)
            line += ",\(record.cpu),vm\(record.vcpu >> 8)/vcpu\(record.vcpu & 0xFF),"
            line += ExitReason(rawValue: record.reason).name
            line += ","
            line += CSVExitExporter.field(detailLabels[Int(record.detail)])
            line += ","
            line += TickUnits.decimal(record.latency, frequency: frequency, exponent: 9)
            line += ",\(record.latency)\n"
            file.write(line)
            rows += 1
            heads[best] = readers[best].next()
        }
        if readers.contains(where: \.failed) { throw .temporaryFile(reason: "reading the spilled rows back failed") }
        return rows
    }

    /// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Errors of `export` beyond unreadable input and unwritable output.
public enum ExportError: Error, Equatable, CustomStringConvertible {
    /// A temporary file for sorting the CSV rows could not be used.
    case temporaryFile(reason: String)
    /// `--interval` is not a positive number of seconds.
    case badInterval(seconds: Double)

    public var description: String {
        switch self {
        case let .temporaryFile(reason):
            return "cannot use a temporary file to sort the rows (\(reason)); check free space in $TMPDIR (default /tmp)"
        case let .badInterval(seconds):
            return "--interval must be a positive number of seconds, not \(seconds)"
        }
    }
}

// The HdrHistogram interval log (`.hlog`, log format 1.3): per time interval one line per exit
// reason (`Tag=REASON,…`) and one untagged line for all exits, each holding a compressed V2
// histogram of the exit latencies (ns) that began in the interval. Read by HdrHistogram's
// HistogramLogReader (Java, Python's `hdrhistogram`, Go, Rust) and HistogramLogAnalyzer.
//
// Encoding (HdrHistogram's "V2" wire format): a 40-byte big-endian header (cookie 0x1c849313,
// payload length, normalizing index offset 0, significant digits 3, lowest 1, highest 1 hour in
// ns, conversion ratio 1.0), then the counts array as ZigZag LEB128 varints with runs of zeros
// as negative counts; wrapped in the compressed envelope (cookie 0x1c849314, length, zlib
// stream) and base64. The zlib stream uses stored (uncompressed) deflate blocks: valid for every
// inflater, no zlib dependency, and the varint counts are compact already.

import Foundation

/// The counts-array geometry of an HdrHistogram with lowest value 1 and 3 significant digits.
enum HdrGeometry {
    static let significantDigits: Int32 = 3
    static let subBucketHalfCountMagnitude = 10   // subBucketCount 2048 covers 2·10^3 at unit 1
    static let subBucketHalfCount = 1 << 10
    /// The highest latency recorded exactly (1 hour in ns); longer ones are recorded at it.
    static let highestTrackableValue: UInt64 = 3_600_000_000_000

    /// The index of `value` in the counts array (HdrHistogram's countsArrayIndex).
    static func index(_ value: UInt64) -> Int {
        let bucket = 53 - (value | 2047).leadingZeroBitCount
        let subBucket = Int(value >> UInt64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + (subBucket - subBucketHalfCount)
    }
}

/// One interval's histogram, sparse (index → count).
struct SparseHdrHistogram {
    var counts: [Int: UInt64] = [:]
    var total: UInt64 = 0
    var maximum: UInt64 = 0

    mutating func record(_ value: UInt64) {
        let clamped = min(value, HdrGeometry.highestTrackableValue)
        counts[HdrGeometry.index(clamped), default: 0] &+= 1
        total &+= 1
        maximum = max(maximum, clamped)
    }

    /// The V2 payload (header + varint counts).
    func payload() -> [UInt8] {
        var body: [UInt8] = []
        func varint(_ value: Int64) {
            var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
            while zigzag >= 0x80 {
                body.append(UInt8(zigzag & 0x7F) | 0x80)
                zigzag >>= 7
            }
            body.append(UInt8(zigzag))
        }
        var next = 0
        for index in counts.keys.sorted() {
            let zeros = index - next
            if zeros == 1 { varint(0) } else if zeros > 1 { varint(-Int64(zeros)) }
            varint(Int64(counts[index]!))
            next = index + 1
        }
        var bytes: [UInt8] = []
        func be(_ value: UInt64, _ width: Int) { for shift in stride(from: width - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * shift))) } }
        be(0x1c84_9313, 4)
        be(UInt64(body.count), 4)
        be(0, 4)
        be(UInt64(HdrGeometry.significantDigits), 4)
        be(1, 8)
        be(HdrGeometry.highestTrackableValue, 8)
        be((1.0 as Double).bitPattern, 8)
        return bytes + body
    }

    /// The compressed, base64 form a log line carries.
    func encoded() -> String {
        let deflated = ZlibStored.wrap(payload())
        var bytes: [UInt8] = [0x1c, 0x84, 0x93, 0x14]
        let length = UInt32(deflated.count)
        bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        return Base64.encode(bytes + deflated)
    }
}

/// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
enum ZlibStored {
    static func wrap(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final: UInt8 = offset + length == data.count ? 1 : 0
            out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        let adler = b << 16 | a
        out += [UInt8(adler >> 24), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF)]
        return out
    }
}

/// RFC 4648 base64 with padding.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(value >> 18)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], alphabet[Int(value & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            out += [alphabet[Int(value >> 18)], alphabet[Int(value >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(value >> 18)], alphabet[Int(value >> 12 & 63)], alphabet[Int(value >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// An `ExitSink` that collects interval histograms per reason and writes the `.hlog` at the end.
/// Intervals are aligned to multiples of `intervalTicks` of the trace clock; the log's
/// timestamps count from the start of the first interval with an exit.
public struct HdrIntervalLogExporter: ExitSink {
    struct Key: Hashable, Comparable {
        var interval: UInt64
        /// Reason raw value; `UInt32.max` for the untagged all-exits line.
        var reason: UInt32
        static func < (a: Key, b: Key) -> Bool { a.interval != b.interval ? a.interval < b.interval : a.reason < b.reason }
    }

    let frequency: UInt64
    let intervalTicks: UInt64
    var histograms: [Key: SparseHdrHistogram] = [:]
    /// Latencies longer than an hour, recorded as one hour.
    var clamped: UInt64 = 0

    public init(clockFrequency: UInt64, intervalTicks: UInt64) {
        frequency = max(1, clockFrequency)
        self.intervalTicks = max(1, intervalTicks)
    }

    func nanoseconds(_ ticks: UInt64) -> UInt64 {
        let product = ticks.multipliedFullWidth(by: 1_000_000_000)
        let wide = UInt128(product.high) << 64 | UInt128(product.low)
        let value = (wide + UInt128(frequency / 2)) / UInt128(frequency)
        return value > UInt128(UInt64.max) ? .max : UInt64(value)
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let interval = exit.entryTimestamp / intervalTicks
        let latency = nanoseconds(exit.latency)
        if latency > HdrGeometry.highestTrackableValue { clamped &+= 1 }
        histograms[Key(interval: interval, reason: UInt32(exit.reason.rawValue)), default: SparseHdrHistogram()].record(latency)
        histograms[Key(interval: interval, reason: .max), default: SparseHdrHistogram()].record(latency)
    }

    /// Writes the log; returns the interval lines written.
    public func write(into file: AtomicOutputFile, header: TraceFileHeader, source: String) -> UInt64 {
        let startSeconds = Double(header.hostTimeNanoseconds) / 1e9
        file.write("#[Exit latencies (ns) of \(source), written by hvtrace export --format hlog]\n")
        file.write("#[Tags are exit reasons; the untagged line of each interval holds all exits]\n")
        file.write("#[Interval: \(TickUnits.decimal(intervalTicks, frequency: frequency, exponent: 0, decimals: 6)) s of the trace clock (\(frequency) Hz)]\n")
        if clamped > 0 { file.write("#[\(clamped) latencies above 1 hour were recorded as 1 hour]\n") }
        file.write("#[Histogram log format version 1.3]\n")
        file.write("#[StartTime: \(TickUnits.decimal(header.hostTimeNanoseconds, frequency: 1_000_000_000, exponent: 0)) (seconds since epoch)]\n")
        file.write("#[BaseTime: \(String(format: "%.3f", startSeconds)) (seconds since epoch)]\n")
        file.write("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")
        guard let firstInterval = histograms.keys.map(\.interval).min() else { return 0 }
        let length = TickUnits.decimal(intervalTicks, frequency: frequency, exponent: 0, decimals: 6)
        var lines: UInt64 = 0
        for key in histograms.keys.sorted() {
            let histogram = histograms[key]!
            let start = TickUnits.decimal((key.interval - firstInterval) * intervalTicks, frequency: frequency, exponent: 0, decimals: 6)
            let maxMilliseconds = String(format: "%.6f", Double(histogram.maximum) / 1e6)
            let tag = key.reason == .max ? "" : "Tag=\(ExitReason(rawValue: UInt16(key.reason)).name),"
            file.write("\(tag)\(start),\(length),\(maxMilliseconds),\(histogram.encoded())\n")
            lines += 1
        }
        return lines
    }
}

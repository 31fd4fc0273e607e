// The .hvt container: one zstd stream whose decompressed bytes are a file header followed by
// chunks. All integers little-endian. FORMAT.md ("The .hvt file") is the prose version of this.

/// Constants of the .hvt container.
public enum TraceFileLayout {
    /// "HVTFILE\0" read as a little-endian UInt64: the first 8 decompressed bytes.
    public static let magic: UInt64 = 0x0045_4C49_4654_5648
    /// Bumped when an older reader could misread the file (never for new chunk types or keys).
    public static let majorVersion: UInt16 = 1
    /// Bumped for additions older readers can skip (new chunk types, new metadata keys).
    /// 1.1: independent zstd frames, each after the first opening with a frame-start chunk, and a
    /// seek index in a skippable frame at the end (1.0 files are one frame without an index).
    public static let minorVersion: UInt16 = 1
    /// Bytes before the header body: magic u64, major u16, minor u16, body length u32.
    public static let preambleSize = 16
    /// Bytes of the region header stored in the file header (the fields before the ring states).
    public static let regionHeaderBytes = RegionHeaderLayout.ringStates
    /// Chunk header: type u8, payload length u32.
    public static let chunkHeaderSize = 5
    /// Page chunk payload prefix: CPU u16, sequence u64; the trimmed page follows.
    public static let pageChunkPrefix = 10
    /// Largest header body or chunk payload a reader accepts (a page is at most 64 KiB).
    public static let maximumPayload = 1 << 20
    /// The zstd frame magic (RFC 8878 §3.1.1) as it appears in the first four file bytes.
    public static let zstdMagicBytes: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
}

/// Chunk types. Like event ids they are never reused; readers skip (and count) types they do not know.
public enum ChunkType: UInt8, Sendable {
    /// One drained page: CPU u16, sequence u64, then the page header and its used bytes.
    case page = 1
    /// A ring's counters when recording stopped: CPU u16 then six u64 (see `RingStateSnapshot`).
    case ringState = 2
    /// u64 record-clock time T: no later page chunk holds an event stamped before T. Lets the
    /// merged reader release events without reading ahead to the end of the file.
    case watermark = 3
    /// The first chunk of every zstd frame after the first: u32 frame number, u64 stream offset of
    /// this chunk. Names the frame for a reader that starts there (seek index, parallel analysis).
    case frameStart = 4
    /// The last chunk: u64 page chunks written. Its absence means the file was cut short.
    case end = 0x7F
}

/// One ring's state as the consumer last read it (`RingStateLayout`), stored at end of recording.
public struct RingStateSnapshot: Equatable, Sendable {
    public var cpu: UInt16
    /// Pages with sequence numbers below this were committed.
    public var producerSequence: UInt64
    /// Pages below this were copied by the consumer.
    public var consumerSequence: UInt64
    /// Events the producer dropped because the ring was full.
    public var lostEvents: UInt64
    /// Events handed to the producer, written or dropped.
    public var producedEvents: UInt64
    /// Pages overwritten before the consumer copied them (overwrite mode).
    public var overwrittenPages: UInt64
    /// Sequence of the page the producer was filling.
    public var openSequence: UInt64

    public init(cpu: UInt16, producerSequence: UInt64, consumerSequence: UInt64, lostEvents: UInt64,
                producedEvents: UInt64, overwrittenPages: UInt64, openSequence: UInt64) {
        self.cpu = cpu
        self.producerSequence = producerSequence
        self.consumerSequence = consumerSequence
        self.lostEvents = lostEvents
        self.producedEvents = producedEvents
        self.overwrittenPages = overwrittenPages
        self.openSequence = openSequence
    }

    /// Reads ring state `cpu` from a mapped region.
    public init(region: UnsafeRawPointer, cpu: Int) {
        let ring = region + RegionHeader.ringStateOffset(cpu: cpu)
        func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: ring.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        self.init(cpu: UInt16(truncatingIfNeeded: cpu), producerSequence: u64(RingStateLayout.producerSequence),
                  consumerSequence: u64(RingStateLayout.consumerSequence), lostEvents: u64(RingStateLayout.lostEvents),
                  producedEvents: u64(RingStateLayout.producedEvents), overwrittenPages: u64(RingStateLayout.overwrittenPages),
                  openSequence: u64(RingStateLayout.openSequence))
    }

    static let payloadSize = 2 + 6 * 8
}

/// Little-endian byte building and parsing used by the container.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Bounds-checked little-endian reads over a byte buffer; every read fails instead of trapping.
struct ByteReader {
    let base: UnsafeRawPointer
    let count: Int
    var offset = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        count = buffer.count
    }

    var remaining: Int { count - offset }

    mutating func u16() -> UInt16? { fixed(UInt16.self).map { UInt16(littleEndian: $0) } }
    mutating func u32() -> UInt32? { fixed(UInt32.self).map { UInt32(littleEndian: $0) } }
    mutating func u64() -> UInt64? { fixed(UInt64.self).map { UInt64(littleEndian: $0) } }

    mutating func fixed<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard remaining >= MemoryLayout<T>.size else { return nil }
        defer { offset += MemoryLayout<T>.size }
        return base.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    mutating func string() -> String? {
        guard let length = u32(), Int(length) <= remaining else { return nil }
        defer { offset += Int(length) }
        return String(decoding: UnsafeRawBufferPointer(start: base + offset, count: Int(length)), as: UTF8.self)
    }
}

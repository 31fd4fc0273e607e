// The .hvt file as a sequence of independent zstd frames (RFC 8878 §3.1) and the seek index that
// lists them. The index is a zstd skippable frame (RFC 8878 §3.1.2) at the end of the file, so a
// standard `zstd -d` skips it and still decompresses every frame; a file without one (cut by a
// SIGKILL) gets its frame list rebuilt by a scan of the zstd frame and block headers.
// FORMAT.md ("The .hvt file", "Frames and the seek index") is the prose version of this.

/// One zstd frame of an .hvt file as the seek index (or a scan) describes it.
public struct FrameEntry: Equatable, Sendable {
    /// File byte where the frame starts (its zstd magic).
    public var fileOffset: UInt64
    /// Compressed bytes of the frame.
    public var compressedSize: UInt64
    /// Decompressed stream offset of the frame's first byte (the stream continues across frames).
    public var streamOffset: UInt64
    /// Decompressed bytes of the frame.
    public var streamLength: UInt64
    /// Earliest page-open timestamp and latest record timestamp of the frame's pages (record clock);
    /// `firstTimestamp > lastTimestamp` when the frame holds no page.
    public var firstTimestamp: UInt64
    public var lastTimestamp: UInt64
    /// Events in the frame's pages (the page headers' eventCount, lost_events records included).
    public var eventCount: UInt64
    /// Page chunks in the frame.
    public var pageCount: UInt32
    /// Per CPU that has pages in the frame: its first and last page sequence there.
    public var sequences: [CPUSequenceRange]
    /// False for an entry a scan made: only the offsets are known, the rest is zero.
    public var isIndexed: Bool

    /// The CPUs with pages in this frame, as a bit set (bit n = CPU n; the format allows 62 CPUs).
    public var cpuMask: UInt64 {
        sequences.reduce(0) { $0 | (UInt64(1) << UInt64(min($1.cpu, 63))) }
    }

    public init(fileOffset: UInt64, compressedSize: UInt64, streamOffset: UInt64 = 0, streamLength: UInt64 = 0,
                firstTimestamp: UInt64 = .max, lastTimestamp: UInt64 = 0, eventCount: UInt64 = 0,
                pageCount: UInt32 = 0, sequences: [CPUSequenceRange] = [], isIndexed: Bool = false) {
        self.fileOffset = fileOffset
        self.compressedSize = compressedSize
        self.streamOffset = streamOffset
        self.streamLength = streamLength
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.eventCount = eventCount
        self.pageCount = pageCount
        self.sequences = sequences
        self.isIndexed = isIndexed
    }

    /// Whether the frame may hold events stamped in `from...to` (a scanned entry always may).
    public func overlaps(from: UInt64, to: UInt64) -> Bool {
        guard isIndexed else { return true }
        guard firstTimestamp <= lastTimestamp else { return false }
        return firstTimestamp <= to && lastTimestamp >= from
    }
}

/// The first and last page sequence of one CPU inside one frame.
public struct CPUSequenceRange: Equatable, Sendable {
    public var cpu: UInt16
    public var first: UInt64
    public var last: UInt64

    public init(cpu: UInt16, first: UInt64, last: UInt64) {
        self.cpu = cpu
        self.first = first
        self.last = last
    }
}

/// How a reader learnt the file's frames.
public enum FrameListSource: String, Sendable {
    /// From the seek index at the end of the file.
    case index
    /// By scanning the zstd frame headers (no index, or a damaged one).
    case scan
}

/// The seek index: its byte layout, encoding and decoding.
public enum SeekIndex {
    /// Skippable-frame magic used for the index (0x184D2A50 + 0xE; RFC 8878 §3.1.2 allows 0…F).
    public static let skippableMagic: UInt32 = 0x184D_2A5E
    /// "HVTINDEX" as a little-endian UInt64: the first payload bytes.
    public static let payloadMagic: UInt64 = 0x5845_444E_4954_5648
    /// "HVTSEEK\0" as a little-endian UInt64: the file's last 8 bytes when an index is present.
    public static let footerMagic: UInt64 = 0x004B_4545_5354_5648
    public static let version: UInt16 = 1
    /// Payload head: magic u64, version u16, reserved u16, frame count u32.
    static let headSize = 16
    /// Fixed part of one entry: 8 × u64 (offset, size, stream offset, stream length, first and last
    /// timestamp, events, CPU mask), page count u32, range count u16, reserved u16.
    static let entrySize = 72
    /// One CPU range: cpu u16, first u64, last u64.
    static let rangeSize = 18
    /// Footer (the payload's last bytes, so the file's): checksum u64, payload length u64, magic u64.
    static let footerSize = 24
    /// Skippable frame header: magic u32, payload length u32.
    static let frameHeaderSize = 8

    /// The whole skippable frame holding `entries`.
    static func encode(_ entries: [FrameEntry]) -> [UInt8] {
        var payload = ByteWriter()
        payload.u64(payloadMagic)
        payload.u16(version)
        payload.u16(0)
        payload.u32(UInt32(entries.count))
        for entry in entries {
            for value in [entry.fileOffset, entry.compressedSize, entry.streamOffset, entry.streamLength,
                          entry.firstTimestamp, entry.lastTimestamp, entry.eventCount, entry.cpuMask] {
                payload.u64(value)
            }
            payload.u32(entry.pageCount)
            payload.u16(UInt16(entry.sequences.count))
            payload.u16(0)
            for range in entry.sequences {
                payload.u16(range.cpu)
                payload.u64(range.first)
                payload.u64(range.last)
            }
        }
        let checksum = fnv1a(payload.bytes[...])
        let length = UInt64(payload.bytes.count + footerSize)
        payload.u64(checksum)
        payload.u64(length)
        payload.u64(footerMagic)
        var frame = ByteWriter()
        frame.u32(skippableMagic)
        frame.u32(UInt32(payload.bytes.count))
        frame.bytes += payload.bytes
        return frame.bytes
    }

    /// Why an index could not be used (the reader then scans and says so in its diagnostics).
    enum Problem: Error, Equatable {
        /// The file does not end with the footer magic: it was cut (or written by hvtrace < 1.1).
        case absent
        case damaged(String)
    }

    /// Reads the index at the end of `input`; the entries, or why there is none.
    static func read(from input: RandomAccessInput) -> Result<[FrameEntry], Problem> {
        let size = input.size
        guard size >= UInt64(frameHeaderSize + headSize + footerSize) else { return .failure(.absent) }
        guard let footerBytes = try? input.bytes(at: size - UInt64(footerSize), count: footerSize) else { return .failure(.absent) }
        let (checksum, length, magic) = footerBytes.withUnsafeBytes { raw in
            var footer = ByteReader(raw)
            return (footer.u64()!, footer.u64()!, footer.u64()!)
        }
        guard magic == footerMagic else { return .failure(.absent) }
        guard length >= UInt64(headSize + footerSize), length <= size - UInt64(frameHeaderSize), length < 1 << 31 else {
            return .failure(.damaged("footer claims a \(length)-byte index in a \(size)-byte file"))
        }
        let frameStart = size - length - UInt64(frameHeaderSize)
        guard let frameBytes = try? input.bytes(at: frameStart, count: Int(length) + frameHeaderSize) else {
            return .failure(.damaged("index at file byte \(frameStart) unreadable"))
        }
        return frameBytes.withUnsafeBytes { raw in parse(raw, frameStart: frameStart, length: length, checksum: checksum) }
    }

    /// Parses the index frame `raw` (skippable header to footer) found at file byte `frameStart`.
    private static func parse(_ raw: UnsafeRawBufferPointer, frameStart: UInt64, length: UInt64, checksum: UInt64)
        -> Result<[FrameEntry], Problem> {
        var reader = ByteReader(raw)
        guard reader.u32() == skippableMagic, reader.u32() == UInt32(length) else {
            return .failure(.damaged("no skippable frame header at file byte \(frameStart)"))
        }
        let body = Array(raw[frameHeaderSize..<(raw.count - footerSize)])
        guard fnv1a(body) == checksum else { return .failure(.damaged("checksum mismatch in the index at file byte \(frameStart)")) }
        guard reader.u64() == payloadMagic, let version = reader.u16(), reader.u16() != nil, let count = reader.u32() else {
            return .failure(.damaged("index payload magic missing at file byte \(frameStart + 8)"))
        }
        guard version == Self.version else { return .failure(.damaged("index version \(version), this hvtrace reads \(Self.version)")) }
        var entries: [FrameEntry] = []
        var previousEnd: UInt64 = 0
        for number in 0..<Int(count) {
            guard reader.remaining - footerSize >= entrySize else { return .failure(.damaged("index ends inside entry \(number)")) }
            var values: [UInt64] = []
            for _ in 0..<8 { values.append(reader.u64()!) }
            let pages = reader.u32()!, ranges = Int(reader.u16()!)
            _ = reader.u16()
            guard reader.remaining - footerSize >= ranges * rangeSize else { return .failure(.damaged("index ends inside entry \(number)")) }
            var sequences: [CPUSequenceRange] = []
            for _ in 0..<ranges { sequences.append(CPUSequenceRange(cpu: reader.u16()!, first: reader.u64()!, last: reader.u64()!)) }
            let entry = FrameEntry(fileOffset: values[0], compressedSize: values[1], streamOffset: values[2], streamLength: values[3],
                                   firstTimestamp: values[4], lastTimestamp: values[5], eventCount: values[6],
                                   pageCount: pages, sequences: sequences, isIndexed: true)
            guard entry.fileOffset >= previousEnd, entry.compressedSize > 0,
                  entry.fileOffset.addingReportingOverflow(entry.compressedSize).partialValue <= frameStart,
                  !entry.fileOffset.addingReportingOverflow(entry.compressedSize).overflow else {
                return .failure(.damaged("entry \(number) (file bytes \(entry.fileOffset)+\(entry.compressedSize)) is outside the frames"))
            }
            previousEnd = entry.fileOffset + entry.compressedSize
            entries.append(entry)
        }
        guard entries.first?.fileOffset == 0 else { return .failure(.damaged("the first frame does not start at byte 0")) }
        return .success(entries)
    }

    /// FNV-1a, 64 bits: enough to tell a damaged index from a good one.
    static func fnv1a(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 { fnv1a(bytes[...]) }
}

/// Finds the zstd frames of a file from their headers alone (no decompression): for a file whose
/// seek index is missing (a recording cut by SIGKILL, a file of hvtrace < 1.1) or damaged. A frame
/// whose block headers are damaged ends at the next offset where a complete frame starts.
enum FrameScanner {
    /// The frames of `input`, in file order; skippable frames are left out.
    static func scan(_ input: RandomAccessInput) -> [FrameEntry] {
        var entries: [FrameEntry] = []
        var offset: UInt64 = 0
        let size = input.size
        while offset + 4 <= size {
            guard let magic = try? input.bytes(at: offset, count: 4) else { break }
            let value = littleEndian32(magic, 0)
            if value & 0xFFFF_FFF0 == 0x184D_2A50 {
                guard let head = try? input.bytes(at: offset + 4, count: 4) else { break }
                let length = UInt64(littleEndian32(head, 0))
                offset += 8 + length
                continue
            }
            if value == 0xFD2F_B528, let length = frameLength(input, at: offset) {
                entries.append(FrameEntry(fileOffset: offset, compressedSize: length))
                offset += length
                continue
            }
            // A frame that cannot be walked (damaged headers, or the one being written when the
            // file was cut): it runs to where the next complete frame starts, or to the file end.
            let next = nextFrameStart(input, after: offset) ?? size
            if value == 0xFD2F_B528 || entries.isEmpty {
                entries.append(FrameEntry(fileOffset: offset, compressedSize: next - offset))
            } else {
                // Bytes that start no frame: they belong to the damaged frame before them.
                entries[entries.count - 1].compressedSize = next - entries[entries.count - 1].fileOffset
            }
            offset = next
        }
        return entries
    }

    /// Length of the complete frame at `offset` (frame header, blocks, checksum), nil if it is cut
    /// or its headers are impossible.
    static func frameLength(_ input: RandomAccessInput, at offset: UInt64) -> UInt64? {
        // Frame header (RFC 8878 §3.1.1.1): magic, descriptor, window descriptor, dictionary id,
        // frame content size; the descriptor says which are present and how long.
        guard offset + 5 <= input.size, let head = try? input.bytes(at: offset + 4, count: 1) else { return nil }
        let descriptor = head[0]
        guard descriptor & 0x08 == 0 else { return nil }  // reserved bit
        let singleSegment = descriptor & 0x20 != 0
        let contentSizeBytes: [UInt64] = [singleSegment ? 1 : 0, 2, 4, 8]
        let dictionaryBytes: [UInt64] = [0, 1, 2, 4]
        let headerSize = 5 + (singleSegment ? 0 : 1) + dictionaryBytes[Int(descriptor & 3)] + contentSizeBytes[Int(descriptor >> 6)]
        let hasChecksum = descriptor & 0x04 != 0
        var position = offset + headerSize
        // Blocks (§3.1.1.2): 3-byte header, bit 0 last, bits 2:1 type (raw, RLE, compressed,
        // reserved), bits 23:3 size (RLE: one byte of content).
        while true {
            guard let block = try? input.bytes(at: position, count: 3) else { return nil }
            let word = UInt32(block[0]) | UInt32(block[1]) << 8 | UInt32(block[2]) << 16
            let isLast = word & 1 == 1
            let type = (word >> 1) & 3
            let blockSize = UInt64(word >> 3)
            guard type != 3, blockSize <= 128 << 10 else { return nil }
            position += 3
            position += type == 1 ? 1 : blockSize
            guard position <= input.size else { return nil }
            if isLast { break }
        }
        if hasChecksum { position += 4 }
        return position <= input.size ? position - offset : nil
    }

    /// The next offset after `offset` where a complete zstd frame or a skippable frame starts.
    static func nextFrameStart(_ input: RandomAccessInput, after offset: UInt64) -> UInt64? {
        var position = offset + 1
        let window = 1 << 16
        while position + 4 <= input.size {
            let count = Int(min(UInt64(window + 3), input.size - position))
            guard let bytes = try? input.bytes(at: position, count: count) else { return nil }
            var index = 0
            while index + 4 <= bytes.count {
                if bytes[index + 1] == 0xB5 && bytes[index + 2] == 0x2F && bytes[index + 3] == 0xFD && bytes[index] == 0x28 {
                    let candidate = position + UInt64(index)
                    if frameLength(input, at: candidate) != nil { return candidate }
                } else if bytes[index + 1] == 0x2A && bytes[index + 2] == 0x4D && bytes[index + 3] == 0x18 && bytes[index] & 0xF0 == 0x50 {
                    // A skippable frame counts only if it ends exactly at the file end (the index).
                    let candidate = position + UInt64(index)
                    if let head = try? input.bytes(at: candidate + 4, count: 4),
                       candidate + 8 + UInt64(littleEndian32(head, 0)) == input.size {
                        return candidate
                    }
                }
                index += 1
            }
            position += UInt64(window)
        }
        return nil
    }
}

/// The little-endian u32 at `offset` of `bytes`.
func littleEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}

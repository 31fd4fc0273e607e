// The header at the start of every .hvt file: the region header the hypervisor published and what
// the recorder knew about the run.

/// What an .hvt file says about its recording.
public struct TraceFileHeader: Equatable, Sendable {
    /// The region header fields as the hypervisor stored them (ring states are not included).
    public var region: RegionHeader
    /// The guest that ran (`guest=` from the boot arguments), e.g. "linux" or "probe".
    public var guestName: String
    /// The hypervisor build id, as text (usually hex).
    public var buildID: String
    /// When recording started on the host, nanoseconds since the Unix epoch (0 = unknown).
    public var hostTimeNanoseconds: UInt64
    /// The QEMU command line used (empty when unknown).
    public var qemuCommandLine: String
    /// Free-form key/value pairs (recorder version, synthetic seed, …), in order.
    public var extra: [MetadataEntry]
    /// The container minor version the file was written with (a reader sets it from the preamble;
    /// a writer always writes `TraceFileLayout.minorVersion`).
    public var fileMinorVersion: UInt16 = TraceFileLayout.minorVersion

    public init(region: RegionHeader, guestName: String = "", buildID: String = "", hostTimeNanoseconds: UInt64 = 0,
                qemuCommandLine: String = "", extra: [MetadataEntry] = []) {
        self.region = region
        self.guestName = guestName
        self.buildID = buildID
        self.hostTimeNanoseconds = hostTimeNanoseconds
        self.qemuCommandLine = qemuCommandLine
        self.extra = extra
    }

    /// The metadata keys with a field of their own.
    enum Key {
        static let guest = "guest"
        static let buildID = "build_id"
        static let hostTime = "host_time_unix_ns"
        static let qemuCommandLine = "qemu_command_line"
    }

    /// The header body (after the 16-byte preamble): u32 region length, region bytes, u32 entry
    /// count, then per entry a u32-length-prefixed UTF-8 key and value.
    func encodedBody() -> [UInt8] {
        var writer = ByteWriter()
        var regionBytes = [UInt8](repeating: 0, count: Int(region.headerSize))
        regionBytes.withUnsafeMutableBytes { region.store(to: $0.baseAddress!) }
        writer.u32(UInt32(TraceFileLayout.regionHeaderBytes))
        writer.bytes.append(contentsOf: regionBytes[0..<TraceFileLayout.regionHeaderBytes])
        let entries = [MetadataEntry(key: Key.guest, value: guestName), MetadataEntry(key: Key.buildID, value: buildID),
                       MetadataEntry(key: Key.hostTime, value: String(hostTimeNanoseconds)),
                       MetadataEntry(key: Key.qemuCommandLine, value: qemuCommandLine)] + extra
        writer.u32(UInt32(entries.count))
        for entry in entries {
            writer.string(entry.key)
            writer.string(entry.value)
        }
        return writer.bytes
    }

    /// Parses a header body. `bodyOffset` is the body's stream offset, used in error messages.
    static func decode(body: UnsafeRawBufferPointer, bodyOffset: UInt64, path: String) throws(TraceFileError) -> TraceFileHeader {
        func invalid(_ offset: Int, _ detail: String) -> TraceFileError {
            TraceFileError(path: path, reason: .invalidHeader(streamOffset: bodyOffset + UInt64(offset), detail: detail))
        }
        var reader = ByteReader(body)
        guard let regionLength = reader.u32(), regionLength >= UInt32(TraceFileLayout.regionHeaderBytes),
              Int(regionLength) <= reader.remaining else {
            throw invalid(0, "region header length field is impossible")
        }
        let regionStart = reader.offset
        let region: RegionHeader
        do {
            region = try RegionHeader.load(from: reader.base + regionStart, length: Int(regionLength))
        } catch {
            switch error {
            case let .unsupportedVersion(major, minor):
                throw TraceFileError(path: path, reason: .unsupportedVersion(what: "region header", major: major, minor: minor))
            case let .badMagic(found):
                throw invalid(regionStart, "region magic is 0x\(String(found, radix: 16)), expected 0x\(String(RegionHeader.magicValue, radix: 16))")
            case let .fieldOutOfRange(field, offset, value):
                throw invalid(regionStart + offset, "region header field '\(field)' (region offset \(offset)) holds \(value), which is impossible")
            case let .tooShort(needed, available):
                throw invalid(regionStart, "region header has \(available) bytes, needs \(needed)")
            }
        }
        reader.offset += Int(regionLength)
        guard let count = reader.u32() else { throw invalid(reader.offset, "metadata count missing") }
        var header = TraceFileHeader(region: region)
        for index in 0..<count {
            let entryOffset = reader.offset
            guard let key = reader.string(), let value = reader.string() else {
                throw invalid(entryOffset, "metadata entry \(index) of \(count) runs past the header")
            }
            switch key {
            case Key.guest: header.guestName = value
            case Key.buildID: header.buildID = value
            case Key.hostTime: header.hostTimeNanoseconds = UInt64(value) ?? 0
            case Key.qemuCommandLine: header.qemuCommandLine = value
            default: header.extra.append(MetadataEntry(key: key, value: value))
            }
        }
        return header
    }
}

/// One free-form metadata pair.
public struct MetadataEntry: Equatable, Sendable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

// The shared trace region: where it lives, its header, the per-CPU ring states and the page header.
// All multi-byte fields are little-endian and naturally aligned. See FORMAT.md for the protocol.

/// Where the hypervisor puts the trace region and how big it may be. The region lies outside every
/// guest's stage-2 map, so no guest can read or write it.
public enum TraceRegion {
    /// Physical address of the region header (QEMU virt RAM starts at 0x4000_0000).
    public static let physicalBase: UInt64 = 0x4800_0000
    /// Physical address where QEMU's RAM (and so the shared RAM file) begins.
    public static let ramPhysicalBase: UInt64 = 0x4000_0000
    /// Byte offset of the region header inside the shared RAM file.
    public static let ramFileOffset: UInt64 = physicalBase - ramPhysicalBase
    /// The most bytes the region may span (header page plus all ring pages).
    public static let maximumSize: UInt64 = 32 << 20
    /// Default page size.
    public static let defaultPageSize: UInt32 = 4096
    /// Default pages per CPU ring (4 MiB per CPU).
    public static let defaultPagesPerCPU: UInt32 = 1024
}

/// How the timestamps in records are counted (region header field `clockSource`).
public enum ClockSource: UInt8, Sendable {
    /// CNTPCT_EL0, the generic timer's physical count (Arm ARM D11.1).
    case genericCounter = 1
    /// PMCCNTR_EL0, the PMU cycle counter (Arm ARM D13.2): cycle-accurate where available.
    case cycleCounter = 2

    public var name: StaticString { self == .genericCounter ? "cntpct" : "pmccntr" }
}

/// What the producer does when the ring is full (region header field `mode`).
public enum RingMode: UInt8, Sendable {
    /// Drop new events and count them exactly until the consumer frees a page.
    case stopWhenFull = 0
    /// Overwrite the oldest page: a flight recorder that always holds the newest events.
    case overwrite = 1

    public var name: StaticString { self == .stopWhenFull ? "stop-when-full" : "overwrite" }
}

/// Byte offsets of the region header fields (the region header is one page at the region base).
public enum RegionHeaderLayout {
    public static let magic = 0            // UInt64, `RegionHeader.magicValue`
    public static let versionMajor = 8     // UInt16
    public static let versionMinor = 10    // UInt16
    public static let headerSize = 12      // UInt32: bytes before the first ring page
    public static let clockFrequency = 16  // UInt64: Hz of the record clock
    public static let clockSource = 24     // UInt8: `ClockSource`
    public static let mode = 25            // UInt8: `RingMode`
    public static let cpuCount = 26        // UInt16
    public static let pageSize = 28        // UInt32
    public static let pagesPerCPU = 32     // UInt32
    public static let control = 36         // UInt32: bit 0 tracing enabled (hypervisor-owned)
    public static let buildID = 40         // 16 bytes: hypervisor build id
    public static let regionSize = 56      // UInt64: header + all pages
    public static let counterFrequency = 64 // UInt64: Hz of CNTPCT (page headers' `counter`)
    /// First per-CPU ring state; ring state `i` is at `ringStates + i * ringStateStride`.
    public static let ringStates = 128
    public static let ringStateStride = 64
    /// The most CPUs a one-page header can describe.
    public static func maximumCPUs(headerSize: Int) -> Int { (headerSize - ringStates) / ringStateStride }
}

/// Byte offsets inside one per-CPU ring state (64 bytes, one cache line).
public enum RingStateLayout {
    /// UInt64, producer-owned: pages with sequence numbers below this are committed. Stored last,
    /// with release semantics, after the page it publishes.
    public static let producerSequence = 0
    /// UInt64, consumer-owned: the host has copied every page below this sequence number.
    public static let consumerSequence = 8
    /// UInt64, producer-owned: events dropped because the ring was full (stop-when-full mode).
    public static let lostEvents = 16
    /// UInt64, producer-owned: events written into committed pages plus those dropped, updated at commit.
    public static let producedEvents = 24
    /// UInt64, producer-owned: pages the producer overwrote before the consumer had them (overwrite mode,
    /// counted from the consumer sequence the producer last saw).
    public static let overwrittenPages = 32
    /// UInt64, producer-owned: sequence number of the page currently being filled.
    public static let openSequence = 40
}

/// Byte offsets in the 32-byte header at the start of every ring page.
public enum PageHeaderLayout {
    /// UInt64: the page's sequence number once committed; `PageHeader.openMarker` while being written.
    public static let sequence = 0
    /// UInt64: the record clock at page open; the first record's delta is relative to it.
    public static let timestamp = 8
    /// UInt64: CNTPCT at page open, for ordering pages across CPUs.
    public static let counter = 16
    /// UInt16: bytes of records after the header.
    public static let usedBytes = 24
    /// UInt16: the CPU whose ring this page belongs to.
    public static let cpu = 26
    /// UInt16: `PageFlags`.
    public static let flags = 28
    /// UInt16: records in the page.
    public static let eventCount = 30
    /// Size of the page header; records follow.
    public static let size = 32
}

/// Page header flag bits.
public enum PageFlags {
    /// Events were dropped between the previous page and this one (a `lostEvents` record says how many).
    public static let eventsLostBefore: UInt16 = 1 << 0
    /// The page was committed before it was full (flush at power-off, panic or an explicit flush).
    public static let partial: UInt16 = 1 << 1
    /// The page was recovered from a snapshot while still open: its end may be cut mid-record.
    public static let uncommitted: UInt16 = 1 << 2
}

/// Why region or page metadata is unusable. Offsets are byte offsets from the region (or page) start.
public enum LayoutError: Error, Equatable, Sendable {
    case badMagic(found: UInt64)
    case unsupportedVersion(major: UInt16, minor: UInt16)
    case fieldOutOfRange(field: StaticString, offset: Int, value: UInt64)
    case tooShort(needed: Int, available: Int)

    public static func == (lhs: LayoutError, rhs: LayoutError) -> Bool {
        switch (lhs, rhs) {
        case let (.badMagic(a), .badMagic(b)): return a == b
        case let (.unsupportedVersion(a, b), .unsupportedVersion(c, d)): return a == c && b == d
        case let (.fieldOutOfRange(_, o1, v1), .fieldOutOfRange(_, o2, v2)): return o1 == o2 && v1 == v2
        case let (.tooShort(a, b), .tooShort(c, d)): return a == c && b == d
        default: return false
        }
    }
}

/// The region header: everything a consumer needs to find and interpret the rings.
public struct RegionHeader: Equatable, Sendable {
    /// "HVTRACE\0" read as a little-endian UInt64.
    public static let magicValue: UInt64 = 0x0045_4341_5254_5648
    public static let currentMajorVersion: UInt16 = 1
    public static let currentMinorVersion: UInt16 = 1
    /// Size of the header page.
    public static let size = 4096

    public var versionMajor: UInt16 = RegionHeader.currentMajorVersion
    public var versionMinor: UInt16 = RegionHeader.currentMinorVersion
    public var headerSize: UInt32 = UInt32(RegionHeader.size)
    public var clockFrequency: UInt64
    public var clockSource: ClockSource
    public var mode: RingMode
    public var cpuCount: UInt16
    public var pageSize: UInt32
    public var pagesPerCPU: UInt32
    public var control: UInt32 = 1
    public var buildIDHigh: UInt64 = 0
    public var buildIDLow: UInt64 = 0
    public var counterFrequency: UInt64

    public init(clockFrequency: UInt64, clockSource: ClockSource, mode: RingMode, cpuCount: UInt16,
                pageSize: UInt32 = TraceRegion.defaultPageSize, pagesPerCPU: UInt32 = TraceRegion.defaultPagesPerCPU,
                counterFrequency: UInt64, buildIDHigh: UInt64 = 0, buildIDLow: UInt64 = 0) {
        self.clockFrequency = clockFrequency
        self.clockSource = clockSource
        self.mode = mode
        self.cpuCount = cpuCount
        self.pageSize = pageSize
        self.pagesPerCPU = pagesPerCPU
        self.counterFrequency = counterFrequency
        self.buildIDHigh = buildIDHigh
        self.buildIDLow = buildIDLow
    }

    /// Total bytes: the header page plus every CPU's ring.
    public var regionSize: UInt64 {
        UInt64(headerSize) + UInt64(cpuCount) * UInt64(pagesPerCPU) * UInt64(pageSize)
    }

    /// Byte offset (from the region base) of ring state `cpu`.
    @inline(__always)
    public static func ringStateOffset(cpu: Int) -> Int {
        RegionHeaderLayout.ringStates + cpu * RegionHeaderLayout.ringStateStride
    }

    /// Byte offset (from the region base) of the page that holds sequence number `sequence` of `cpu`.
    @inline(__always)
    public func pageOffset(cpu: Int, sequence: UInt64) -> Int {
        let slot = Int(sequence % UInt64(pagesPerCPU))
        return Int(headerSize) + (cpu * Int(pagesPerCPU) + slot) * Int(pageSize)
    }

    /// Writes the header fields (not the ring states) at `base`, the magic last: a consumer that
    /// sees the magic sees a complete header once the producer has ordered these stores (see
    /// `publishTraceRegion`).
    public func store(to base: UnsafeMutableRawPointer) {
        storeFields(to: base)
        base.storeBytes(of: RegionHeader.magicValue.littleEndian, toByteOffset: RegionHeaderLayout.magic, as: UInt64.self)
    }

    /// Writes every header field except the magic.
    public func storeFields(to base: UnsafeMutableRawPointer) {
        base.storeBytes(of: versionMajor.littleEndian, toByteOffset: RegionHeaderLayout.versionMajor, as: UInt16.self)
        base.storeBytes(of: versionMinor.littleEndian, toByteOffset: RegionHeaderLayout.versionMinor, as: UInt16.self)
        base.storeBytes(of: headerSize.littleEndian, toByteOffset: RegionHeaderLayout.headerSize, as: UInt32.self)
        base.storeBytes(of: clockFrequency.littleEndian, toByteOffset: RegionHeaderLayout.clockFrequency, as: UInt64.self)
        base.storeBytes(of: clockSource.rawValue, toByteOffset: RegionHeaderLayout.clockSource, as: UInt8.self)
        base.storeBytes(of: mode.rawValue, toByteOffset: RegionHeaderLayout.mode, as: UInt8.self)
        base.storeBytes(of: cpuCount.littleEndian, toByteOffset: RegionHeaderLayout.cpuCount, as: UInt16.self)
        base.storeBytes(of: pageSize.littleEndian, toByteOffset: RegionHeaderLayout.pageSize, as: UInt32.self)
        base.storeBytes(of: pagesPerCPU.littleEndian, toByteOffset: RegionHeaderLayout.pagesPerCPU, as: UInt32.self)
        base.storeBytes(of: control.littleEndian, toByteOffset: RegionHeaderLayout.control, as: UInt32.self)
        base.storeBytes(of: buildIDHigh.littleEndian, toByteOffset: RegionHeaderLayout.buildID, as: UInt64.self)
        base.storeBytes(of: buildIDLow.littleEndian, toByteOffset: RegionHeaderLayout.buildID + 8, as: UInt64.self)
        base.storeBytes(of: regionSize.littleEndian, toByteOffset: RegionHeaderLayout.regionSize, as: UInt64.self)
        base.storeBytes(of: counterFrequency.littleEndian, toByteOffset: RegionHeaderLayout.counterFrequency, as: UInt64.self)
    }

    /// Reads and validates a header from `length` bytes at `base`.
    public static func load(from base: UnsafeRawPointer, length: Int) throws(LayoutError) -> RegionHeader {
        guard length >= RegionHeaderLayout.ringStates else { throw .tooShort(needed: RegionHeaderLayout.ringStates, available: length) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        func u8(_ o: Int) -> UInt8 { base.load(fromByteOffset: o, as: UInt8.self) }

        let magic = u64(RegionHeaderLayout.magic)
        guard magic == magicValue else { throw .badMagic(found: magic) }
        let major = u16(RegionHeaderLayout.versionMajor), minor = u16(RegionHeaderLayout.versionMinor)
        guard major == currentMajorVersion else { throw .unsupportedVersion(major: major, minor: minor) }
        let headerSize = u32(RegionHeaderLayout.headerSize)
        guard headerSize >= UInt32(RegionHeaderLayout.ringStates + RegionHeaderLayout.ringStateStride),
              headerSize <= 1 << 20, headerSize % 64 == 0 else {
            throw .fieldOutOfRange(field: "header size", offset: RegionHeaderLayout.headerSize, value: UInt64(headerSize))
        }
        guard let clockSource = ClockSource(rawValue: u8(RegionHeaderLayout.clockSource)) else {
            throw .fieldOutOfRange(field: "clock source", offset: RegionHeaderLayout.clockSource, value: UInt64(u8(RegionHeaderLayout.clockSource)))
        }
        guard let mode = RingMode(rawValue: u8(RegionHeaderLayout.mode)) else {
            throw .fieldOutOfRange(field: "ring mode", offset: RegionHeaderLayout.mode, value: UInt64(u8(RegionHeaderLayout.mode)))
        }
        let frequency = u64(RegionHeaderLayout.clockFrequency)
        guard frequency > 0 else {
            throw .fieldOutOfRange(field: "clock frequency", offset: RegionHeaderLayout.clockFrequency, value: 0)
        }
        let cpuCount = u16(RegionHeaderLayout.cpuCount)
        guard cpuCount >= 1, Int(cpuCount) <= RegionHeaderLayout.maximumCPUs(headerSize: Int(headerSize)) else {
            throw .fieldOutOfRange(field: "CPU count", offset: RegionHeaderLayout.cpuCount, value: UInt64(cpuCount))
        }
        let pageSize = u32(RegionHeaderLayout.pageSize)
        guard pageSize >= 256, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            throw .fieldOutOfRange(field: "page size", offset: RegionHeaderLayout.pageSize, value: UInt64(pageSize))
        }
        let pagesPerCPU = u32(RegionHeaderLayout.pagesPerCPU)
        guard pagesPerCPU >= 2, pagesPerCPU <= 1 << 20 else {
            throw .fieldOutOfRange(field: "pages per CPU", offset: RegionHeaderLayout.pagesPerCPU, value: UInt64(pagesPerCPU))
        }
        let counterFrequency = u64(RegionHeaderLayout.counterFrequency)
        guard counterFrequency > 0 else {
            throw .fieldOutOfRange(field: "counter frequency", offset: RegionHeaderLayout.counterFrequency, value: 0)
        }
        var header = RegionHeader(clockFrequency: frequency, clockSource: clockSource, mode: mode, cpuCount: cpuCount,
                                  pageSize: pageSize, pagesPerCPU: pagesPerCPU, counterFrequency: counterFrequency,
                                  buildIDHigh: u64(RegionHeaderLayout.buildID), buildIDLow: u64(RegionHeaderLayout.buildID + 8))
        header.versionMinor = minor
        header.headerSize = headerSize
        header.control = u32(RegionHeaderLayout.control)
        return header
    }
}

/// A page header as read from or written to the first 32 bytes of a ring page.
public struct PageHeader: Equatable, Sendable {
    /// The `sequence` value of a page the producer is still filling.
    public static let openMarker: UInt64 = .max

    public var sequence: UInt64
    public var timestamp: UInt64
    public var counter: UInt64
    public var usedBytes: UInt16
    public var cpu: UInt16
    public var flags: UInt16
    public var eventCount: UInt16

    @inlinable
    public init(sequence: UInt64, timestamp: UInt64, counter: UInt64, usedBytes: UInt16, cpu: UInt16,
                flags: UInt16, eventCount: UInt16) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.counter = counter
        self.usedBytes = usedBytes
        self.cpu = cpu
        self.flags = flags
        self.eventCount = eventCount
    }

    /// Reads a page header (no validation: see `validate`).
    @inlinable
    public static func load(from page: UnsafeRawPointer) -> PageHeader {
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: page.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: page.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        return PageHeader(sequence: u64(PageHeaderLayout.sequence), timestamp: u64(PageHeaderLayout.timestamp),
                          counter: u64(PageHeaderLayout.counter), usedBytes: u16(PageHeaderLayout.usedBytes),
                          cpu: u16(PageHeaderLayout.cpu), flags: u16(PageHeaderLayout.flags),
                          eventCount: u16(PageHeaderLayout.eventCount))
    }

    /// Writes every field, `sequence` included (the producer writes `sequence` separately, last).
    public func store(to page: UnsafeMutableRawPointer) {
        page.storeBytes(of: sequence.littleEndian, toByteOffset: PageHeaderLayout.sequence, as: UInt64.self)
        page.storeBytes(of: timestamp.littleEndian, toByteOffset: PageHeaderLayout.timestamp, as: UInt64.self)
        page.storeBytes(of: counter.littleEndian, toByteOffset: PageHeaderLayout.counter, as: UInt64.self)
        page.storeBytes(of: usedBytes.littleEndian, toByteOffset: PageHeaderLayout.usedBytes, as: UInt16.self)
        page.storeBytes(of: cpu.littleEndian, toByteOffset: PageHeaderLayout.cpu, as: UInt16.self)
        page.storeBytes(of: flags.littleEndian, toByteOffset: PageHeaderLayout.flags, as: UInt16.self)
        page.storeBytes(of: eventCount.littleEndian, toByteOffset: PageHeaderLayout.eventCount, as: UInt16.self)
    }

    /// Checks the header against the page size it came from.
    @inlinable
    public func validate(pageSize: Int, cpuCount: Int) throws(LayoutError) {
        guard Int(usedBytes) <= pageSize - PageHeaderLayout.size else {
            throw .fieldOutOfRange(field: "page used bytes", offset: PageHeaderLayout.usedBytes, value: UInt64(usedBytes))
        }
        guard Int(cpu) < cpuCount else {
            throw .fieldOutOfRange(field: "page CPU", offset: PageHeaderLayout.cpu, value: UInt64(cpu))
        }
        guard flags & ~(PageFlags.eventsLostBefore | PageFlags.partial | PageFlags.uncommitted) == 0 else {
            throw .fieldOutOfRange(field: "page flags", offset: PageHeaderLayout.flags, value: UInt64(flags))
        }
    }
}

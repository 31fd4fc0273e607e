// `hvtrace snapshot`: the trace region read back from a RAM file left by a hung or crashed run
// (`record --keep-ram-file`) or from a QEMU memory dump, decoded into what the flight recorder holds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceFormat

/// Where the region lies in a snapshot file.
public enum SnapshotLayout: Equatable, Sendable {
    /// A raw image of guest RAM (the shared RAM file, `pmemsave 0x40000000 …`): the region is at this
    /// byte offset (`TraceRegion.ramFileOffset` when RAM starts at the file start).
    case raw(regionOffset: UInt64)
    /// An ELF core from `dump-guest-memory`: the region is found through the PT_LOAD segment whose
    /// physical address range holds `TraceRegion.physicalBase`.
    case elfCore
}

/// Why a snapshot file cannot be read.
public enum SnapshotError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, errno: Int32)
    /// The file is too short for what had to be read at `offset` (`fileSize` bytes in all).
    case shortRead(path: String, offset: UInt64, wanted: Int, fileSize: UInt64)
    case noSegmentForRegion(path: String, physicalAddress: UInt64)
    case malformedELF(path: String, reason: String)
    case region(path: String, offset: UInt64, RecordingError)

    public var description: String {
        switch self {
        case let .cannotOpen(path, code): return "\(path): cannot open: \(String(cString: strerror(code)))"
        case let .shortRead(path, offset, wanted, fileSize):
            return "\(path): file ends at byte \(fileSize), but \(wanted) bytes are needed from offset 0x\(String(offset, radix: 16)): not a RAM file or memory dump of an hvtrace run, or --offset is wrong"
        case let .noSegmentForRegion(path, address):
            return "\(path): no PT_LOAD segment covers physical address 0x\(String(address, radix: 16)); was the dump taken with paging off (`dump-guest-memory FILE`)?"
        case let .malformedELF(path, reason): return "\(path): malformed ELF core: \(reason)"
        case let .region(path, offset, error): return "\(path) at offset \(offset): \(error)"
        }
    }
}

/// The region copied out of a snapshot file, with a consumer over it.
public final class FlightRecorderSnapshot {
    public let path: String
    /// Byte offset of the region in the file.
    public let regionOffset: UInt64
    public let consumer: RingConsumer
    private let buffer: RegionBuffer

    /// Reads the region from `path`. `layout` nil: an ELF core if the file starts with the ELF magic,
    /// else a raw RAM image with the region at `TraceRegion.ramFileOffset`.
    public init(path: String, layout: SnapshotLayout? = nil) throws(SnapshotError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        let resolved: SnapshotLayout
        if let layout {
            resolved = layout
        } else {
            var magic: UInt32 = 0
            resolved = pread(fd, &magic, 4, 0) == 4 && magic == 0x464C_457F ? .elfCore : .raw(regionOffset: TraceRegion.ramFileOffset)
        }
        let offset: UInt64
        switch resolved {
        case let .raw(regionOffset): offset = regionOffset
        case .elfCore: offset = try Self.regionOffsetInELFCore(fd: fd, path: path)
        }
        // The header page first, to learn the region size; then the whole region.
        let headerBytes = try Self.read(fd: fd, path: path, offset: offset, count: RegionHeader.size)
        let loaded = headerBytes.withUnsafeBytes { raw -> Result<RegionHeader, LayoutError> in
            Result { () throws(LayoutError) in try RegionHeader.load(from: raw.baseAddress!, length: raw.count) }
        }
        let header: RegionHeader
        switch loaded {
        case let .success(value): header = value
        case let .failure(error): throw .region(path: path, offset: offset, .invalidRegionHeader(error))
        }
        guard header.regionSize <= TraceRegion.maximumSize else {
            throw .region(path: path, offset: offset, .regionLargerThanMapping(regionSize: header.regionSize, mapped: TraceRegion.maximumSize))
        }
        let size = Int(header.regionSize)
        let buffer = RegionBuffer(size: size)
        try Self.read(fd: fd, path: path, offset: offset, count: size, into: buffer.base)
        do {
            consumer = try RingConsumer(region: buffer.base, length: size, owner: buffer)
        } catch {
            throw .region(path: path, offset: offset, error)
        }
        self.path = path
        self.regionOffset = offset
        self.buffer = buffer
    }

    /// Decodes what the flight recorder holds into `sink`: the committed pages from each ring's consumer
    /// sequence (or, with `includeConsumed`, every committed page still in the ring), then the open
    /// pages flagged `PageFlags.uncommitted`. The consumer's counters say what was found.
    public func decode<Sink: TracePageSink>(into sink: inout Sink, includeConsumed: Bool = false) throws {
        if includeConsumed { consumer.rewindToOldestRetainedPages() }
        try consumer.drain { page in try sink.append(page) }
        try consumer.recoverOpenPages { page in try sink.append(page) }
    }

    private static func read(fd: Int32, path: String, offset: UInt64, count: Int) throws(SnapshotError) -> [UInt8] {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        defer { buffer.deallocate() }
        try read(fd: fd, path: path, offset: offset, count: count, into: buffer)
        return Array(UnsafeRawBufferPointer(start: buffer, count: count))
    }

    /// Reads exactly `count` bytes at `offset` (any 64-bit offset: one past the end of the file is
    /// an error naming the file's size, not a trap).
    private static func read(fd: Int32, path: String, offset: UInt64, count: Int,
                             into buffer: UnsafeMutableRawPointer) throws(SnapshotError) {
        var done = 0
        while done < count, offset <= UInt64(Int64.max) - UInt64(count) {
            let got = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            done += got
        }
        guard done == count else {
            let size = lseek(fd, 0, SEEK_END)
            throw .shortRead(path: path, offset: offset, wanted: count, fileSize: UInt64(max(size, 0)))
        }
    }

    /// The file offset of `TraceRegion.physicalBase` in an ELF64 little-endian core (QEMU's
    /// `dump-guest-memory`: one PT_LOAD per RAM block, p_paddr = guest physical address).
    static func regionOffsetInELFCore(fd: Int32, path: String) throws(SnapshotError) -> UInt64 {
        let elfHeader = try read(fd: fd, path: path, offset: 0, count: 64)
        func u16(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 }
        func u32(_ b: [UInt8], _ o: Int) -> UInt64 { u16(b, o) | u16(b, o + 2) << 16 }
        func u64(_ b: [UInt8], _ o: Int) -> UInt64 { u32(b, o) | u32(b, o + 4) << 32 }
        guard elfHeader[4] == 2, elfHeader[5] == 1 else {
            throw .malformedELF(path: path, reason: "not ELF64 little-endian (EI_CLASS \(elfHeader[4]), EI_DATA \(elfHeader[5]) at offset 4)")
        }
        let programHeaders = u64(elfHeader, 0x20)
        let entrySize = Int(u16(elfHeader, 0x36))
        let count = Int(u16(elfHeader, 0x38))
        guard entrySize >= 56, count > 0, count < 4096 else {
            throw .malformedELF(path: path, reason: "program header size \(entrySize), count \(count) at offset 0x36")
        }
        let table = try read(fd: fd, path: path, offset: programHeaders, count: entrySize * count)
        let target = TraceRegion.physicalBase
        for index in 0..<count {
            let entry = index * entrySize
            guard u32(table, entry) == 1 else { continue } // PT_LOAD
            let fileOffset = u64(table, entry + 8)
            let physical = u64(table, entry + 24)
            let fileSize = u64(table, entry + 32)
            if target >= physical, target - physical < fileSize { return fileOffset + (target - physical) }
        }
        throw .noSegmentForRegion(path: path, physicalAddress: target)
    }
}

/// A region copied into memory of our own, freed when the last user lets go.
final class RegionBuffer {
    let base: UnsafeMutableRawPointer
    init(size: Int) { base = .allocate(byteCount: size, alignment: 4096) }
    deinit { base.deallocate() }
}

extension RingConsumer {
    /// Moves every ring's next sequence back to its oldest page that can still be in memory, so
    /// already-consumed pages are read again (snapshot `--include-consumed`).
    public func rewindToOldestRetainedPages() {
        for cpu in 0..<cpuCount {
            let produced = ringState(cpu: cpu).producerSequence
            let pages = UInt64(header.pagesPerCPU)
            setNextSequence(cpu: cpu, produced > pages ? produced - pages : 0)
        }
    }
}

/// A one-line rendering of an event for summaries (`hvtrace dump` has the full format).
public func describeEvent(_ event: TraceEvent) -> String {
    switch event {
    case let .exitEntry(ec, iss, vcpu):
        return "exit_entry \(exitReasonName(ec)) iss=0x\(String(iss, radix: 16)) vcpu=\(vcpu >> 8).\(vcpu & 0xFF)"
    case .exitReturn: return "exit_return"
    case let .hypercall(conduit, immediate, function):
        return "hypercall \(conduit == .hvc ? "hvc" : "smc") #\(immediate) fn=0x\(String(function, radix: 16))"
    case let .hypercallResult(value): return "hypercall_result \(value)"
    case let .stage2Fault(ipa, access, outcome):
        return "stage2_fault ipa=0x\(String(ipa, radix: 16)) \(access.isWrite ? "write" : "read")\(access.sizeInBytes * 8) \(outcome.name)"
    case let .mmioAccess(device, offset, access, value):
        let name = MMIODevice(rawValue: device).map { "\($0.name)" } ?? "device\(device)"
        return "mmio \(name)+0x\(String(offset, radix: 16)) \(access.isWrite ? "write" : "read")\(access.sizeInBytes * 8) 0x\(String(value, radix: 16))"
    case let .physicalIRQ(intid): return "irq \(intid)"
    case let .virtualIRQ(intid, vcpu): return "virq \(intid) vcpu=\(vcpu)"
    case let .waitForInterrupt(kind): return "\(kind.name)"
    case let .sysregTrap(encoding, isWrite):
        return "sysreg \(isWrite ? "msr" : "mrs") S\(SysregEncoding.op0(encoding))_\(SysregEncoding.op1(encoding))_C\(SysregEncoding.crn(encoding))_C\(SysregEncoding.crm(encoding))_\(SysregEncoding.op2(encoding))"
    case let .spanEnter(phase): return "span_enter \(HandlerPhase(rawValue: phase).map { "\($0.name)" } ?? "phase\(phase)")"
    case let .spanLeave(phase): return "span_leave \(HandlerPhase(rawValue: phase).map { "\($0.name)" } ?? "phase\(phase)")"
    case let .guestMarker(id, value): return "marker id=\(id) value=\(value)"
    case let .lostEvents(count): return "lost_events \(count)"
    case let .guestPC(pc): return "guest_pc 0x\(String(pc, radix: 16))"
    }
}

/// The last `count` events of `pages` (all CPUs, by timestamp), as lines for the snapshot summary.
public func lastEventLines(_ pages: [CollectingPageSink.StoredPage], header: RegionHeader, count: Int) -> [String] {
    var tail: [(TimedEvent, Bool)] = []
    for page in pages {
        page.bytes.withUnsafeBytes { bytes in
            guard var decoder = try? PageDecoder(bytes: bytes, pageSize: Int(header.pageSize), cpuCount: Int(header.cpuCount)) else { return }
            let uncommitted = decoder.header.flags & PageFlags.uncommitted != 0
            var perPage: [(TimedEvent, Bool)] = []
            while let timed = try? decoder.next() { perPage.append((timed, uncommitted)) }
            tail.append(contentsOf: perPage.suffix(count))
        }
    }
    tail.sort { ($0.0.timestamp, $0.0.cpu) < ($1.0.timestamp, $1.0.cpu) }
    return tail.suffix(count).map { timed, uncommitted in
        "  \(pad(String(timed.timestamp), 16, right: true))  cpu\(timed.cpu)  \(describeEvent(timed.event))\(uncommitted ? "  (uncommitted)" : "")"
    }
}

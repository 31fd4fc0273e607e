// The consumer side of the per-CPU trace rings: copies committed pages out of a mapped trace region
// while the producer (the hypervisor, or `RingProducer` on a host thread in tests) keeps writing.
//
// Protocol (the mirror image of RingProducer.swift, FORMAT.md "Memory ordering"):
//   P = acquire-load ring.producerSequence          pages below P are committed
//   for s in next ..< P:
//     acquire-load page.sequence; != s              the slot was reopened already: overwritten
//     copy header + usedBytes into our buffer
//     acquire fence                                 the copy's loads complete before the re-read
//     re-load page.sequence; != s                   reopened while we copied: torn, never decoded
//     release-store ring.consumerSequence = s + 1   the producer may reuse the slot after this
// In overwrite mode a consumer more than pagesPerCPU behind skips to P - pagesPerCPU and counts the
// skipped pages exactly; their events are known only as a total (produced − decoded − dropped).

import Synchronization
import TraceFormat

/// Per-CPU counts kept by `RingConsumer`. Every page below the producer's sequence ends up in exactly
/// one of `pagesCopied`, `pagesOverwrittenBeforeCopy`, `pagesTornDuringCopy`, `pagesSkipped`,
/// `corruptPages`.
public struct RingConsumerCounters: Equatable, Sendable {
    /// Pages copied intact and handed to the sink.
    public var pagesCopied: UInt64 = 0
    /// Bytes of those pages (header + used bytes).
    public var bytesCopied: UInt64 = 0
    /// Events decoded from copied pages, not counting `lostEvents` bookkeeping records.
    public var decodedEvents: UInt64 = 0
    /// `lostEvents` records seen in copied pages.
    public var lostEventRecords: UInt64 = 0
    /// Sum of the counts in those records: events the producer dropped (stop-when-full).
    public var lostEventsReported: UInt64 = 0
    /// Events in copied pages that could not be decoded (the header's count minus what decoded).
    public var undecodableEvents: UInt64 = 0
    /// Copied pages whose records stopped with a decode error.
    public var pagesWithDecodeErrors: UInt64 = 0
    /// Pages whose slot already held a newer page when the consumer reached it (overwrite mode).
    public var pagesOverwrittenBeforeCopy: UInt64 = 0
    /// Pages the producer reopened while the consumer copied them (sequence changed during the copy).
    public var pagesTornDuringCopy: UInt64 = 0
    /// Pages never looked at because the consumer was more than a ring behind (overwrite mode).
    public var pagesSkipped: UInt64 = 0
    /// Pages whose header failed validation although their sequence was stable.
    public var corruptPages: UInt64 = 0
    /// Uncommitted (still open) pages recovered after the producer stopped, and their events.
    public var uncommittedPagesRecovered: UInt64 = 0
    public var uncommittedEventsRecovered: UInt64 = 0

    /// Pages whose events are gone: overwritten, torn or skipped.
    public var pagesLost: UInt64 { pagesOverwrittenBeforeCopy + pagesTornDuringCopy + pagesSkipped }

    public init() {}

    mutating func add(_ other: RingConsumerCounters) {
        pagesCopied += other.pagesCopied
        bytesCopied += other.bytesCopied
        decodedEvents += other.decodedEvents
        lostEventRecords += other.lostEventRecords
        lostEventsReported += other.lostEventsReported
        undecodableEvents += other.undecodableEvents
        pagesWithDecodeErrors += other.pagesWithDecodeErrors
        pagesOverwrittenBeforeCopy += other.pagesOverwrittenBeforeCopy
        pagesTornDuringCopy += other.pagesTornDuringCopy
        pagesSkipped += other.pagesSkipped
        corruptPages += other.corruptPages
        uncommittedPagesRecovered += other.uncommittedPagesRecovered
        uncommittedEventsRecovered += other.uncommittedEventsRecovered
    }
}

/// How one CPU's produced events divide up, after the producer has stopped and the ring is drained.
/// `produced == decoded + dropped + inLostPages` holds by construction of `inLostPages`; a test or the
/// summary checks the parts it can know independently (in stop-when-full mode `inLostPages` must be 0).
public struct RingAccounting: Equatable, Sendable {
    public var cpu: Int
    /// The producer's count of events handed to it (committed pages + dropped).
    public var produced: UInt64
    /// Events decoded from copied pages (bookkeeping records excluded).
    public var decoded: UInt64
    /// Events the producer dropped (its ring counter; includes drops not yet reported by a record).
    public var dropped: UInt64
    /// Events dropped that a `lostEvents` record in a copied page reported.
    public var droppedReportedInTrace: UInt64
    /// Events in pages that were overwritten, torn, skipped, corrupt or undecodable: produced minus
    /// everything else. Negative values would mean a broken count and are reported as `overcount`.
    public var inLostPages: UInt64
    /// Decoded events beyond what the producer says it produced (0 unless something is wrong).
    public var overcount: UInt64
    /// Events recovered from the still-open page (not part of `produced`).
    public var uncommitted: UInt64
}

/// Copies committed pages out of a mapped trace region, one CPU ring at a time.
public final class RingConsumer {
    /// A page as copied out of the ring: valid only inside the callback it is passed to.
    public struct Page {
        public var cpu: Int
        public var sequence: UInt64
        /// Page header + used bytes, trimmed (flags may include `PageFlags.uncommitted`).
        public var bytes: UnsafeRawBufferPointer
    }

    /// The region base: inside the mapping until `detach()`, then a private copy of the header page.
    public private(set) var region: UnsafeMutableRawPointer
    public let header: RegionHeader
    /// Keeps the memory behind `region` alive (the RAM file mapping, a snapshot buffer).
    private var owner: AnyObject?
    private var detachedHeader: UnsafeMutableRawPointer?
    /// Next sequence number to consume, per CPU.
    public private(set) var nextSequence: [UInt64]
    public private(set) var counters: [RingConsumerCounters]
    /// Events by id in copied pages (index = `EventID.rawValue`), all CPUs.
    public private(set) var eventsByID = [UInt64](repeating: 0, count: 256)
    /// `exitEntry` records by their `ec` field (index = ec, 0...255), all CPUs.
    public private(set) var exitsByClass = [UInt64](repeating: 0, count: 256)
    /// Guest markers in copied pages, in consumption order (bounded to the first 4096).
    public private(set) var markers: [TimedEvent] = []
    /// Timestamp (record clock) of the newest event seen, per CPU.
    public private(set) var lastTimestamp: [UInt64]
    private let buffer: UnsafeMutableRawBufferPointer

    /// Validates the region header at `region` (`length` bytes are mapped there) and starts consuming
    /// each ring at its current consumer sequence. `owner` is kept alive as long as the consumer (or
    /// until `detach()`), so the memory cannot go away under it.
    public init(region: UnsafeMutableRawPointer, length: Int, owner: AnyObject? = nil) throws(RecordingError) {
        precondition(UInt16(1).littleEndian == 1, "the host must be little-endian like the trace region")
        let header: RegionHeader
        do {
            header = try RegionHeader.load(from: region, length: length)
        } catch {
            throw .invalidRegionHeader(error)
        }
        let storedSize = UInt64(littleEndian: region.load(fromByteOffset: RegionHeaderLayout.regionSize, as: UInt64.self))
        guard storedSize == header.regionSize else {
            throw .regionSizeMismatch(stored: storedSize, computed: header.regionSize)
        }
        guard header.regionSize <= TraceRegion.maximumSize, header.regionSize <= UInt64(length) else {
            throw .regionLargerThanMapping(regionSize: header.regionSize, mapped: UInt64(length))
        }
        self.region = region
        self.header = header
        self.owner = owner
        let cpus = Int(header.cpuCount)
        self.counters = Array(repeating: RingConsumerCounters(), count: cpus)
        self.lastTimestamp = Array(repeating: 0, count: cpus)
        self.buffer = .allocate(byteCount: Int(header.pageSize), alignment: 64)
        self.nextSequence = (0..<cpus).map { cpu in
            Self.atomic(region + RegionHeader.ringStateOffset(cpu: cpu) + RingStateLayout.consumerSequence)
                .pointee.load(ordering: .acquiring)
        }
    }

    deinit {
        buffer.deallocate()
        detachedHeader?.deallocate()
    }

    /// Once the producer has stopped and everything is drained: copies the header page (region
    /// header and ring states) into memory of our own and lets go of the mapping, so counters and
    /// ring states stay readable after the RAM file is unmapped. Pages can no longer be drained.
    public func detach() {
        guard detachedHeader == nil else { return }
        let size = Int(header.headerSize)
        let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        copy.copyMemory(from: region, byteCount: size)
        detachedHeader = copy
        region = copy
        owner = nil
    }

    /// Whether `detach()` has run.
    public var isDetached: Bool { detachedHeader != nil }

    /// Makes `sequence` the next page to consume on `cpu` (snapshots that re-read consumed pages).
    func setNextSequence(cpu: Int, _ sequence: UInt64) { nextSequence[cpu] = sequence }

    public var cpuCount: Int { Int(header.cpuCount) }

    /// All CPUs' counters added up.
    public var totalCounters: RingConsumerCounters {
        var total = RingConsumerCounters()
        for c in counters { total.add(c) }
        return total
    }

    @inline(__always)
    static func atomic(_ pointer: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Atomic<UInt64>> {
        pointer.assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    @inline(__always)
    private func ringField(_ cpu: Int, _ field: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        Self.atomic(region + RegionHeader.ringStateOffset(cpu: cpu) + field)
    }

    /// Reads the ring state of `cpu` (each field with acquire ordering).
    public func ringState(cpu: Int) -> RingStateSnapshot {
        RingStateSnapshot(
            cpu: UInt16(cpu),
            producerSequence: ringField(cpu, RingStateLayout.producerSequence).pointee.load(ordering: .acquiring),
            consumerSequence: ringField(cpu, RingStateLayout.consumerSequence).pointee.load(ordering: .acquiring),
            lostEvents: ringField(cpu, RingStateLayout.lostEvents).pointee.load(ordering: .acquiring),
            producedEvents: ringField(cpu, RingStateLayout.producedEvents).pointee.load(ordering: .acquiring),
            overwrittenPages: ringField(cpu, RingStateLayout.overwrittenPages).pointee.load(ordering: .acquiring),
            openSequence: ringField(cpu, RingStateLayout.openSequence).pointee.load(ordering: .acquiring))
    }

    /// Committed pages of `cpu` that have not been consumed yet.
    public func backlog(cpu: Int) -> UInt64 {
        ringField(cpu, RingStateLayout.producerSequence).pointee.load(ordering: .acquiring) &- nextSequence[cpu]
    }

    /// Drains every CPU's committed pages once, in sequence order per CPU. Returns the pages copied.
    @discardableResult
    public func drain<E: Error>(_ body: (Page) throws(E) -> Void) throws(E) -> Int {
        var copied = 0
        for cpu in 0..<cpuCount { copied += try drain(cpu: cpu, body) }
        return copied
    }

    /// Drains `cpu`'s committed pages once (up to the producer sequence read at the start, so a fast
    /// producer cannot keep this call from returning). Returns the pages copied.
    @discardableResult
    public func drain<E: Error>(cpu: Int, _ body: (Page) throws(E) -> Void) throws(E) -> Int {
        precondition(!isDetached, "drain after detach()")
        let produced = ringField(cpu, RingStateLayout.producerSequence).pointee.load(ordering: .acquiring)
        var sequence = nextSequence[cpu]
        let pages = UInt64(header.pagesPerCPU)
        if produced &- sequence > pages && produced > sequence {
            // More than a ring behind: the oldest pages are gone for sure (only possible in overwrite
            // mode; in stop-when-full mode it would mean a broken producer, and skipping is still right).
            counters[cpu].pagesSkipped += produced - pages - sequence
            sequence = produced - pages
        }
        var copied = 0
        while sequence < produced {
            if copyPage(cpu: cpu, sequence: sequence) {
                try deliverCopiedPage(cpu: cpu, sequence: sequence, body)
                copied += 1
            }
            sequence += 1
            nextSequence[cpu] = sequence
            ringField(cpu, RingStateLayout.consumerSequence).pointee.store(sequence, ordering: .releasing)
        }
        return copied
    }

    /// Test hook: runs between the copy and the sequence re-check, so a test can rewrite the page
    /// exactly there (the race a real producer wins only rarely).
    var afterCopyHook: ((_ cpu: Int, _ sequence: UInt64) -> Void)?

    /// Copies page `sequence` of `cpu` into `buffer`; false (and counted) when the page is not intact.
    private func copyPage(cpu: Int, sequence: UInt64) -> Bool {
        let page = region + header.pageOffset(cpu: cpu, sequence: sequence)
        let pageSequence = Self.atomic(page + PageHeaderLayout.sequence)
        guard pageSequence.pointee.load(ordering: .acquiring) == sequence else {
            counters[cpu].pagesOverwrittenBeforeCopy += 1
            return false
        }
        let maximumBody = Int(header.pageSize) - PageHeaderLayout.size
        let used = Int(UInt16(littleEndian: page.load(fromByteOffset: PageHeaderLayout.usedBytes, as: UInt16.self)))
        let length = PageHeaderLayout.size + min(used, maximumBody)
        buffer.baseAddress!.copyMemory(from: page, byteCount: length)
        afterCopyHook?(cpu, sequence)
        atomicMemoryFence(ordering: .acquiring)
        guard pageSequence.pointee.load(ordering: .relaxed) == sequence else {
            counters[cpu].pagesTornDuringCopy += 1
            return false
        }
        return true
    }

    /// Validates and tallies the page in `buffer`, then hands it to `body`.
    private func deliverCopiedPage<E: Error>(cpu: Int, sequence: UInt64,
                                                       _ body: (Page) throws(E) -> Void) throws(E) {
        let base = UnsafeRawPointer(buffer.baseAddress!)
        let pageHeader = PageHeader.load(from: base)
        let length = PageHeaderLayout.size + Int(pageHeader.usedBytes)
        let bytes = UnsafeRawBufferPointer(start: base, count: min(length, buffer.count))
        guard pageHeader.sequence == sequence, Int(pageHeader.cpu) == cpu, length <= buffer.count,
              tally(bytes, cpu: cpu) else {
            counters[cpu].corruptPages += 1
            return
        }
        counters[cpu].pagesCopied += 1
        counters[cpu].bytesCopied += UInt64(length)
        try body(Page(cpu: cpu, sequence: sequence, bytes: bytes))
    }

    /// Decodes `bytes` to count its events; false if the page header is invalid.
    private func tally(_ bytes: UnsafeRawBufferPointer, cpu: Int) -> Bool {
        guard var decoder = try? PageDecoder(bytes: bytes, pageSize: Int(header.pageSize), cpuCount: cpuCount) else {
            return false
        }
        // Counted in locals and stored once per page: the per-event path touches no class storage.
        var records: UInt64 = 0, lostRecords: UInt64 = 0, lostReported: UInt64 = 0
        var timestamp = lastTimestamp[cpu]
        var failed = false
        eventsByID.withUnsafeMutableBufferPointer { byID in
            exitsByClass.withUnsafeMutableBufferPointer { byClass in
                do {
                    while let timed = try decoder.next() {
                        records += 1
                        timestamp = timed.timestamp
                        byID[Int(timed.event.id.rawValue)] += 1
                        switch timed.event {
                        case let .lostEvents(count):
                            lostRecords += 1
                            lostReported += count
                        case let .exitEntry(ec, _, _):
                            byClass[Int(ec)] += 1
                        case .guestMarker:
                            if markers.count < 4096 { markers.append(timed) }
                        default:
                            break
                        }
                    }
                } catch {
                    failed = true
                }
            }
        }
        lastTimestamp[cpu] = timestamp
        counters[cpu].decodedEvents += records - lostRecords
        counters[cpu].lostEventRecords += lostRecords
        counters[cpu].lostEventsReported += lostReported
        if failed {
            counters[cpu].pagesWithDecodeErrors += 1
            let declared = UInt64(decoder.header.eventCount)
            counters[cpu].undecodableEvents += declared > records ? declared - records : 0
        }
        return true
    }

    /// Copies `cpu`'s open page (the one `state.openSequence` names) into `destination` (a whole
    /// page); false when that slot does not hold an open page.
    private func copyOpenPage(state: RingStateSnapshot, cpu: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        let page = region + header.pageOffset(cpu: cpu, sequence: state.openSequence)
        let pageSequence = Self.atomic(page + PageHeaderLayout.sequence).pointee.load(ordering: .acquiring)
        guard pageSequence == PageHeader.openMarker, state.openSequence >= state.producerSequence else { return false }
        destination.copyMemory(from: page, byteCount: Int(header.pageSize))
        return true
    }

    /// A copy of the page `cpu`'s producer is filling right now, for a live view (no counter
    /// changes; the page still arrives committed later). Its records end at the first zero id byte,
    /// and the last one may be half written: readers drop it. Nil when the slot was reopened during
    /// the copy or holds no open page.
    public func peekOpenPage(cpu: Int) -> (sequence: UInt64, bytes: [UInt8])? {
        precondition(!isDetached, "peekOpenPage after detach()")
        let state = ringState(cpu: cpu)
        var bytes = [UInt8](repeating: 0, count: Int(header.pageSize))
        let copied = bytes.withUnsafeMutableBytes { copyOpenPage(state: state, cpu: cpu, into: $0.baseAddress!) }
        guard copied, ringState(cpu: cpu).openSequence == state.openSequence else { return nil }
        return (state.openSequence, bytes)
    }

    /// Recovers the page each CPU's producer still has open, for use only once the producer has
    /// stopped (QEMU exited, or a snapshot of a dead run): records up to the first zero id byte or the
    /// first record that does not decode, flagged `PageFlags.uncommitted`; `Page.sequence` is the open
    /// sequence, the page header's sequence stays `PageHeader.openMarker`.
    /// Returns the pages recovered.
    @discardableResult
    public func recoverOpenPages<E: Error>(_ body: (Page) throws(E) -> Void) throws(E) -> Int {
        precondition(!isDetached, "recoverOpenPages after detach()")
        var recovered = 0
        for cpu in 0..<cpuCount {
            let state = ringState(cpu: cpu)
            guard copyOpenPage(state: state, cpu: cpu, into: buffer.baseAddress!) else { continue }
            var openHeader = PageHeader.load(from: UnsafeRawPointer(buffer.baseAddress!))
            guard Int(openHeader.cpu) == cpu else {
                counters[cpu].corruptPages += 1
                continue
            }
            // Find the end of the last whole record.
            let recordArea = UnsafeRawPointer(buffer.baseAddress! + PageHeaderLayout.size)
            var records = RecordDecoder(base: recordArea, length: Int(header.pageSize) - PageHeaderLayout.size)
            var end = 0
            var count: UInt16 = 0
            while let record = try? records.next() {
                _ = record
                end = records.offset
                count += 1
            }
            guard count > 0 else { continue }
            // The header keeps `PageHeader.openMarker` as its sequence (readers recognise an open
            // page by it); the page's place in the ring travels beside it as `Page.sequence`.
            openHeader.usedBytes = UInt16(end)
            openHeader.eventCount = count
            openHeader.flags |= PageFlags.uncommitted
            openHeader.store(to: buffer.baseAddress!)
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: PageHeaderLayout.size + end)
            let decodedBefore = counters[cpu].decodedEvents
            guard tally(bytes, cpu: cpu) else {
                counters[cpu].corruptPages += 1
                continue
            }
            // Events in the open page are not part of the producer's `producedEvents`: keep them apart.
            let decodedHere = counters[cpu].decodedEvents - decodedBefore
            counters[cpu].decodedEvents = decodedBefore
            counters[cpu].uncommittedPagesRecovered += 1
            counters[cpu].uncommittedEventsRecovered += decodedHere
            try body(Page(cpu: cpu, sequence: state.openSequence, bytes: bytes))
            recovered += 1
        }
        return recovered
    }

    /// How `cpu`'s produced events divide up. Meaningful once the producer has stopped and the ring
    /// has been drained.
    public func accounting(cpu: Int) -> RingAccounting {
        let state = ringState(cpu: cpu)
        let c = counters[cpu]
        let known = c.decodedEvents + state.lostEvents
        return RingAccounting(
            cpu: cpu, produced: state.producedEvents, decoded: c.decodedEvents, dropped: state.lostEvents,
            droppedReportedInTrace: c.lostEventsReported,
            inLostPages: state.producedEvents > known ? state.producedEvents - known : 0,
            overcount: known > state.producedEvents ? known - state.producedEvents : 0,
            uncommitted: c.uncommittedEventsRecovered)
    }
}

// The producer side of one CPU's ring: appends records to the open page, commits full pages and
// publishes them to the consumer. The hypervisor runs this on every traced event; the synthetic
// writer runs the very same code on the host, so tests exercise what the hypervisor executes.
//
// Publication protocol (FORMAT.md, "Memory ordering"):
//   open:   page.sequence = openMarker; barrier; zero records; write header fields
//   commit: write usedBytes/flags/eventCount; barrier; page.sequence = seq; barrier;
//           ring.producerSequence = seq + 1            <- published last
// The consumer reads producerSequence, then the pages below it, and re-reads each page's sequence
// after copying it: a mismatch means the producer reopened the slot meanwhile (overwrite mode).

/// What the producer needs from the platform it runs on.
public protocol TracePlatform {
    /// Orders all earlier stores before all later stores as seen by the consumer (`dmb ishst`).
    static func storeBarrier()
    /// Orders an earlier load before later loads and stores (`dmb ishld`).
    static func loadBarrier()
    /// The generic counter (CNTPCT_EL0) for page headers.
    static func counterNow() -> UInt64
}

/// Appends events to one CPU's ring of pages inside a mapped trace region.
public struct RingProducer<Platform: TracePlatform> {
    public let region: UnsafeMutableRawPointer
    public let layout: RegionHeader
    public let cpu: Int
    // The hot state, read and written by every `record`, declared together so the loads and
    // stores pair up (`ldp`/`stp`).
    /// The open page, or the region base when no page is open (then `position > limitPosition`).
    @usableFromInline var page: UnsafeMutableRawPointer
    /// The last `position` at which a full record still fits: the last such offset in bits
    /// 63:16, all ones below (so any record count passes).
    @usableFromInline var limitPosition: UInt64
    /// Next write offset inside `page` in bits 63:16, records in the page in bits 15:0: one
    /// register, compared with `limitPosition` directly and advanced by one shifted add (the
    /// record's length) and one increment; the page address is `page + position >> 16`.
    @usableFromInline var position: UInt64
    @usableFromInline var lastTimestamp: UInt64 = 0
    /// Next write offset inside `page`.
    @inline(__always) var cursor: Int {
        get { Int(truncatingIfNeeded: position >> 16) }
        set { position = (UInt64(truncatingIfNeeded: newValue) << 16) | (position & 0xFFFF) }
    }
    /// Records in the open page (a `lostEvents` record included).
    @inline(__always) var pageEvents: UInt16 {
        get { UInt16(truncatingIfNeeded: position) }
        set { position = (position & ~0xFFFF) | UInt64(newValue) }
    }
    /// A `position` with offset `offset` and no records.
    @inline(__always) static func positionAt(offset: Int) -> UInt64 { UInt64(truncatingIfNeeded: offset) << 16 }
    /// Records in the open page that are bookkeeping (`lostEvents`), not produced events.
    @usableFromInline var pageMetaEvents: UInt16 = 0
    @usableFromInline var pageFlags: UInt16 = 0
    /// Sequence number of the open page, or of the next page to open.
    public private(set) var sequence: UInt64 = 0
    @usableFromInline var isOpen = false
    /// Events dropped since the last page that could be opened (stop-when-full).
    public private(set) var pendingLost: UInt64 = 0
    /// All events handed to `record`, written or dropped, up to the last commit or drop.
    public private(set) var producedEvents: UInt64 = 0
    public private(set) var lostEvents: UInt64 = 0

    /// Starts producing into `region` (whose header must already be stored) for `cpu`.
    public init(region: UnsafeMutableRawPointer, layout: RegionHeader, cpu: Int) {
        self.region = region
        self.layout = layout
        self.cpu = cpu
        self.page = region
        self.limitPosition = Self.positionAt(offset: 0) | 0xFFFF
        self.position = Self.positionAt(offset: 1)
    }

    @inline(__always)
    var ring: UnsafeMutableRawPointer { region + RegionHeader.ringStateOffset(cpu: cpu) }

    /// Appends `event` stamped with `timestamp`. Never fails: a full ring counts a lost event.
    @inline(__always)
    public mutating func record(_ event: TraceEvent, timestamp: UInt64) {
        append(records: 1, timestamp: timestamp) { page, offset, delta in
            RecordEncoder.encode(event, delta: delta, to: page, at: offset)
        }
    }

    /// Appends two events that happen at the same instant (the second gets delta 0) with one
    /// page check and one update of the producer state. Both are written, or both counted lost.
    @inline(__always)
    public mutating func record(_ first: TraceEvent, _ second: TraceEvent, timestamp: UInt64) {
        append(records: 2, timestamp: timestamp) { page, offset, delta in
            let middle = RecordEncoder.encode(first, delta: delta, to: page, at: offset)
            return RecordEncoder.encode(second, delta: 0, to: page, at: middle)
        }
    }

    /// Three events at the same instant, as `record(_:_:timestamp:)`: the hypervisor's fast paths
    /// (a null hypercall, its result and the return to the guest).
    @inline(__always)
    public mutating func record(_ first: TraceEvent, _ second: TraceEvent, _ third: TraceEvent, timestamp: UInt64) {
        append(records: 3, timestamp: timestamp) { page, offset, delta in
            let second = RecordEncoder.encode(second, delta: 0,
                                              to: page, at: RecordEncoder.encode(first, delta: delta, to: page, at: offset))
            return RecordEncoder.encode(third, delta: 0, to: page, at: second)
        }
    }

    /// Appends an `exitEntry` whose vCPU field was encoded ahead of time (see
    /// `RecordEncoder.encodeExitEntry`): the hypervisor writes one on every exit.
    @inline(__always)
    public mutating func recordExitEntry(ec: UInt8, iss: UInt32, vcpu: PreencodedVarint, timestamp: UInt64) {
        append(records: 1, timestamp: timestamp) { record, offset, delta in
            RecordEncoder.encodeExitEntry(ec: ec, iss: iss, vcpu: vcpu, delta: delta, to: record, at: offset)
        }
    }

    /// An `exitEntry` stamped `entryTimestamp` followed by three events at `timestamp` (the second
    /// and third with delta 0), with one page check and one update of the producer state: the
    /// hypervisor's null-hypercall exit (entry, call, result, return). All four are written, or
    /// all four counted lost. `entryTimestamp` must not be after `timestamp`.
    @inline(__always)
    public mutating func recordExitEntry(ec: UInt8, iss: UInt32, vcpu: PreencodedVarint, timestamp entryTimestamp: UInt64,
                                         then first: TraceEvent, _ second: TraceEvent, _ third: TraceEvent,
                                         timestamp: UInt64) {
        append(records: 4, timestamp: entryTimestamp, end: timestamp) { record, offset, delta in
            var next = RecordEncoder.encodeExitEntry(ec: ec, iss: iss, vcpu: vcpu, delta: delta, to: record, at: offset)
            next = RecordEncoder.encode(first, delta: timestamp &- entryTimestamp, to: record, at: next)
            next = RecordEncoder.encode(second, delta: 0, to: record, at: next)
            return RecordEncoder.encode(third, delta: 0, to: record, at: next)
        }
    }

    /// The append path shared by the `record` variants: loads the hot state once, checks that
    /// `records` full records fit the open page (else commits it and opens the next, or counts
    /// them lost), lets `encode` write them at (record start, 0, delta to the first) and stores
    /// the new offset, count and timestamp back with one `stp`.
    @inline(__always)
    mutating func append(records: Int, timestamp: UInt64,
                         _ encode: (UnsafeMutableRawPointer, Int, UInt64) -> Int) {
        append(records: records, timestamp: timestamp, end: timestamp, encode)
    }

    /// `append` whose first record is stamped `timestamp` (a page opened for it starts there) and
    /// whose last is stamped `end` (the new last timestamp; `encode` writes the deltas in between).
    @inline(__always)
    mutating func append(records: Int, timestamp: UInt64, end: UInt64,
                         _ encode: (UnsafeMutableRawPointer, Int, UInt64) -> Int) {
        var page = self.page
        var position = self.position
        var last = lastTimestamp
        if _slowPath(position &+ Self.positionAt(offset: (records &- 1) &* maxRecordLength) > limitPosition) {
            guard advance(timestamp: timestamp, events: UInt64(records)) else { return }
            (page, position, last) = (self.page, self.position, lastTimestamp)
        }
        // Encode relative to the record's start: fixed-length paths store at constant offsets.
        let length = encode(page + Int(truncatingIfNeeded: position >> 16), 0, timestamp &- last)
        self.position = position &+ (UInt64(truncatingIfNeeded: length) << 16) &+ UInt64(records)
        lastTimestamp = end
    }

    /// Commits the open page if it holds anything, so the consumer sees it now (power-off, panic,
    /// explicit flush). The next record opens a new page.
    public mutating func flush() {
        if isOpen && pageEvents > 0 { commit(partial: true) }
    }

    /// Commits the open page (if any) and opens the next one; false if the `events` about to be
    /// written must be dropped (they are counted lost). A freshly opened page holds more than
    /// four full records (pages are at least 256 bytes, the header 32, a record at most 32).
    @inline(never)
    @usableFromInline mutating func advance(timestamp: UInt64, events: UInt64) -> Bool {
        if isOpen { commit(partial: false) }
        guard open(timestamp: timestamp) else {
            pendingLost &+= events
            lostEvents &+= events
            producedEvents &+= events
            ring.storeBytes(of: lostEvents.littleEndian, toByteOffset: RingStateLayout.lostEvents, as: UInt64.self)
            ring.storeBytes(of: producedEvents.littleEndian, toByteOffset: RingStateLayout.producedEvents, as: UInt64.self)
            return false
        }
        return true
    }

    /// Opens the page for `sequence`; false when the ring is full in stop-when-full mode.
    mutating func open(timestamp: UInt64) -> Bool {
        let pages = UInt64(layout.pagesPerCPU)
        let consumed = UInt64(littleEndian: ring.load(fromByteOffset: RingStateLayout.consumerSequence, as: UInt64.self))
        Platform.loadBarrier()
        if sequence &- consumed >= pages {
            if layout.mode == .stopWhenFull { return false }
            let overwritten = UInt64(littleEndian: ring.load(fromByteOffset: RingStateLayout.overwrittenPages, as: UInt64.self))
            ring.storeBytes(of: (overwritten &+ 1).littleEndian, toByteOffset: RingStateLayout.overwrittenPages, as: UInt64.self)
        }
        page = region + layout.pageOffset(cpu: cpu, sequence: sequence)
        page.storeBytes(of: PageHeader.openMarker, toByteOffset: PageHeaderLayout.sequence, as: UInt64.self)
        Platform.storeBarrier()
        let pageSize = Int(layout.pageSize)
        zeroRecords(pageSize: pageSize)
        pageFlags = pendingLost > 0 ? PageFlags.eventsLostBefore : 0
        PageHeader(sequence: PageHeader.openMarker, timestamp: timestamp, counter: Platform.counterNow(),
                   usedBytes: 0, cpu: UInt16(truncatingIfNeeded: cpu), flags: pageFlags, eventCount: 0).store(to: page)
        ring.storeBytes(of: sequence.littleEndian, toByteOffset: RingStateLayout.openSequence, as: UInt64.self)
        isOpen = true
        position = Self.positionAt(offset: PageHeaderLayout.size)  // no records yet
        limitPosition = Self.positionAt(offset: pageSize - maxRecordLength) | 0xFFFF
        lastTimestamp = timestamp
        pageMetaEvents = 0
        if pendingLost > 0 {
            cursor = RecordEncoder.encode(.lostEvents(count: pendingLost), delta: 0, to: page, at: cursor)
            pageEvents = 1
            pageMetaEvents = 1
            pendingLost = 0
        }
        return true
    }

    /// Zeroes the page's record area with 64-bit stores, four per iteration (a byte loop here cost
    /// the hypervisor ~10 000 instructions per page, ~40 per traced exit). The area starts 32 bytes
    /// into the page and its size is a multiple of 32 (page sizes are powers of two ≥ 256).
    @inline(__always)
    func zeroRecords(pageSize: Int) {
        var offset = PageHeaderLayout.size
        while offset < pageSize {
            page.storeBytes(of: 0 as UInt64, toByteOffset: offset, as: UInt64.self)
            page.storeBytes(of: 0 as UInt64, toByteOffset: offset &+ 8, as: UInt64.self)
            page.storeBytes(of: 0 as UInt64, toByteOffset: offset &+ 16, as: UInt64.self)
            page.storeBytes(of: 0 as UInt64, toByteOffset: offset &+ 24, as: UInt64.self)
            offset &+= 32
        }
    }

    /// Finishes the open page and publishes it (see the protocol at the top of this file).
    mutating func commit(partial: Bool) {
        let flags = pageFlags | (partial ? PageFlags.partial : 0)
        page.storeBytes(of: UInt16(truncatingIfNeeded: cursor - PageHeaderLayout.size).littleEndian,
                        toByteOffset: PageHeaderLayout.usedBytes, as: UInt16.self)
        page.storeBytes(of: flags.littleEndian, toByteOffset: PageHeaderLayout.flags, as: UInt16.self)
        page.storeBytes(of: pageEvents.littleEndian, toByteOffset: PageHeaderLayout.eventCount, as: UInt16.self)
        producedEvents &+= UInt64(pageEvents - pageMetaEvents)
        ring.storeBytes(of: producedEvents.littleEndian, toByteOffset: RingStateLayout.producedEvents, as: UInt64.self)
        Platform.storeBarrier()
        page.storeBytes(of: sequence.littleEndian, toByteOffset: PageHeaderLayout.sequence, as: UInt64.self)
        Platform.storeBarrier()
        sequence &+= 1
        ring.storeBytes(of: sequence.littleEndian, toByteOffset: RingStateLayout.producerSequence, as: UInt64.self)
        isOpen = false
        page = region
        position = Self.positionAt(offset: 1)  // beyond limitPosition: the next record opens a page
        limitPosition = Self.positionAt(offset: 0) | 0xFFFF
    }
}

/// Prepares a region for producers: stores the header and zeroes every ring state.
/// Single-threaded set-up (tests, the synthetic writer); the hypervisor uses `publishTraceRegion`.
public func initializeTraceRegion(_ header: RegionHeader, at region: UnsafeMutableRawPointer) {
    region.initializeMemory(as: UInt8.self, repeating: 0, count: Int(header.headerSize))
    header.store(to: region)
}

/// Prepares a region that a consumer may already be watching: zeroes the header page and the ring
/// states, stores every field, then — after a store barrier — the magic, so a consumer that sees the
/// magic never reads a half-written header.
public func publishTraceRegion<Platform: TracePlatform>(_ header: RegionHeader, at region: UnsafeMutableRawPointer,
                                                         platform: Platform.Type) {
    region.initializeMemory(as: UInt8.self, repeating: 0, count: Int(header.headerSize))
    header.storeFields(to: region)
    Platform.storeBarrier()
    region.storeBytes(of: RegionHeader.magicValue.littleEndian, toByteOffset: RegionHeaderLayout.magic, as: UInt64.self)
    Platform.storeBarrier()
}

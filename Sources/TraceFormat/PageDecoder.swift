// Decoding one committed page: validate its header, then yield records with absolute timestamps.

/// One event with its absolute timestamp (record clock ticks) and the CPU whose ring held it.
public struct TimedEvent: Equatable, Sendable {
    public var timestamp: UInt64
    public var cpu: UInt16
    public var event: TraceEvent

    @inlinable
    public init(timestamp: UInt64, cpu: UInt16, event: TraceEvent) {
        self.timestamp = timestamp
        self.cpu = cpu
        self.event = event
    }
}

/// Iterates the records of one page (header included in `bytes`), accumulating timestamp deltas.
public struct PageDecoder {
    public let header: PageHeader
    @usableFromInline var records: RecordDecoder
    @usableFromInline var clock: UInt64
    /// Records `next()` returned so far (fixed-shape ones; skipped extension records are counted
    /// apart), to check against the header's `eventCount`.
    public var recordsReturned: Int { returned }
    @usableFromInline var returned = 0

    /// Validates the page header and prepares to decode. `bytes` must hold at least the header and
    /// `usedBytes` of records (a file stores pages trimmed to their used bytes).
    @inlinable
    public init(bytes: UnsafeRawBufferPointer, pageSize: Int, cpuCount: Int) throws(LayoutError) {
        guard bytes.count >= PageHeaderLayout.size, let base = bytes.baseAddress else {
            throw .tooShort(needed: PageHeaderLayout.size, available: bytes.count)
        }
        let header = PageHeader.load(from: base)
        try header.validate(pageSize: pageSize, cpuCount: cpuCount)
        guard bytes.count >= PageHeaderLayout.size + Int(header.usedBytes) else {
            throw .tooShort(needed: PageHeaderLayout.size + Int(header.usedBytes), available: bytes.count)
        }
        self.header = header
        self.records = RecordDecoder(base: base + PageHeaderLayout.size, length: Int(header.usedBytes))
        self.clock = header.timestamp
    }

    /// Byte offset (from the page start) of the next record.
    public var offset: Int { PageHeaderLayout.size + records.offset }
    public var skippedExtensionRecords: Int { records.skippedExtensionRecords }

    /// The next event, nil at the end of the page.
    @inlinable
    public mutating func next() throws(RecordDecodeError) -> TimedEvent? {
        guard let record = try records.next() else { return nil }
        returned &+= 1
        clock &+= record.delta
        return TimedEvent(timestamp: clock, cpu: header.cpu, event: record.event)
    }

    /// Decodes the rest of the page into `visitor` (absolute timestamps). Throws at a malformed
    /// record after delivering every record before it; `offset` then points at that record.
    @inlinable
    public mutating func decodeAll<Visitor: RecordVisitor>(into visitor: inout Visitor) throws(RecordDecodeError) {
        try records.decodeAll(clock: &clock, into: &visitor)
    }
}

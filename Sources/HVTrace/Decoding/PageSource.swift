// Pages of a trace file in file order, validated, with the per-CPU bookkeeping (sequence gaps,
// lost events) folded into the reader's diagnostics. This is the fast path for analyses that only
// need each CPU's own order (exit pairing): no merge, no copies.

/// One validated page, ready for `PageDecoder`. `bytes` is only valid until the next `next()`.
public struct TracePage {
    /// The CPU whose ring held the page.
    public var cpu: UInt16
    /// The page's sequence number in its ring.
    public var sequence: UInt64
    public var header: PageHeader
    /// Page header plus used bytes.
    public var bytes: UnsafeRawBufferPointer
    /// Stream offset of the page's chunk, for diagnostics.
    public var streamOffset: UInt64
    /// True for a snapshot of a page that was still being written (its last record may be cut).
    public var isOpenSnapshot: Bool { header.sequence == PageHeader.openMarker }
}

/// Streams validated pages out of a `TraceFileReader`. Corrupt pages are skipped and counted.
public final class PageSource {
    public let reader: TraceFileReader
    @usableFromInline let pageSize: Int
    @usableFromInline let cpuCount: Int
    /// Next expected sequence per CPU (nil before the CPU's first page).
    @exclusivity(unchecked) private var expectedSequence: [UInt64?]
    /// lost_events records seen per CPU (to compare with the final ring counters).
    @exclusivity(unchecked) private var lostEventsRecorded: [UInt64]
    private var finished = false
    /// Pages `next()` has delivered so far, and the record bytes (`usedBytes`) they hold: with the
    /// 32-byte page headers, the ring bytes those pages took (`TraceEncodingFigures`). Counted per
    /// page, never per event.
    public private(set) var pagesDelivered: UInt64 = 0
    public private(set) var recordBytesDelivered: UInt64 = 0

    public init(reader: TraceFileReader) {
        self.reader = reader
        pageSize = Int(reader.header.region.pageSize)
        cpuCount = Int(reader.header.region.cpuCount)
        expectedSequence = Array(repeating: nil, count: cpuCount)
        lostEventsRecorded = Array(repeating: 0, count: cpuCount)
    }

    /// Opens `path` and streams its pages.
    public convenience init(path: String) throws(TraceFileError) {
        self.init(reader: try TraceFileReader(path: path))
    }

    /// Streams the pages of an .hvt file already in memory (`name` stands for its path in messages).
    public convenience init(bytes: [UInt8], name: String) throws(TraceFileError) {
        self.init(reader: try TraceFileReader(bytes: bytes, name: name))
    }

    public var header: TraceFileHeader { reader.header }
    public var diagnostics: DecodeDiagnostics { reader.diagnostics }

    /// The next valid page in file order, nil at the end of the file.
    public func next() -> TracePage? {
        while let chunk = reader.nextChunk() {
            guard chunk.type == ChunkType.page.rawValue else { continue }
            if let page = validate(chunk) {
                pagesDelivered &+= 1
                recordBytesDelivered &+= UInt64(page.header.usedBytes)
                return page
            }
        }
        finish()
        return nil
    }

    /// Calls `body` for every event of every page in file order (so each CPU's events in time
    /// order), counting record corruption. The fast per-CPU API: see `forEachEvent(in:_:)`.
    @inlinable
    public func forEachEvent<E: Error>(_ body: (TimedEvent) throws(E) -> Void) throws(E) {
        while let page = next() {
            _ = try forEachEvent(in: page, body)
        }
    }

    /// Calls `body` for every event of `page` (a page `next()` returned), in ring order. Returns
    /// false when the page was cut short: by a malformed record (counted in the diagnostics; the
    /// events before it were delivered) or by an end-of-records byte before its used bytes end.
    /// `lost_events` records are counted and delivered too.
    @inlinable
    public func forEachEvent<E: Error>(in page: TracePage, _ body: (TimedEvent) throws(E) -> Void) throws(E) -> Bool {
        var decoder = makeDecoder(page)
        while let event = decodeNext(&decoder, page: page) { try body(event) }
        return decoder.offset >= PageHeaderLayout.size + Int(page.header.usedBytes)
    }

    /// Decodes every record of `page` (a page `next()` returned) into `visitor`, in ring order, with
    /// the same accounting as `forEachEvent(in:_:)` and the same result. This is the hot loop of the
    /// per-CPU analyses: decoder and visitor are inlined into one loop, no `TraceEvent` is built,
    /// and the diagnostics (a class property, so each access is checked for exclusivity) are
    /// touched once per page rather than once per event. The visitor is moved into a local for the
    /// page (and back at its end) so its state can live in registers.
    @inlinable
    public func decode<Visitor: RecordVisitor>(_ page: TracePage, into visitor: inout Visitor) -> Bool {
        var decoder = makeDecoder(page)
        var counting = CountingVisitor(inner: visitor)
        var complete: Bool
        do throws(RecordDecodeError) {
            try decoder.decodeAll(into: &counting)
            complete = decoder.offset >= PageHeaderLayout.size + Int(page.header.usedBytes)
        } catch {
            recordCorruption(error, page: page)
            complete = false
        }
        visitor = counting.inner
        reader.diagnostics.eventsDecoded &+= counting.delivered
        if _slowPath(counting.lostEventRecords > 0) { noteLostEvents(counting.lostEvents, page: page) }
        finishPage(decoder, page: page)
        return complete
    }

    /// Counts what `decode(_:into:)` delivers and sums lost_events records, then passes each event on.
    @usableFromInline
    struct CountingVisitor<Inner: RecordVisitor>: RecordVisitor {
        @usableFromInline var inner: Inner
        @usableFromInline var delivered: UInt64 = 0
        @usableFromInline var lostEventRecords = 0
        @usableFromInline var lostEvents: UInt64 = 0

        @inlinable
        init(inner: Inner) {
            self.inner = inner
        }

        @inlinable @inline(__always)
        mutating func visit(_ event: TraceEvent, timestamp: UInt64) {
            delivered &+= 1
            if case let .lostEvents(count) = event {
                lostEventRecords += 1
                lostEvents.addSaturating(count)
            }
            inner.visit(event, timestamp: timestamp)
        }
    }

    /// A decoder over a page `next()` returned (validated already, so this cannot fail).
    @inlinable
    public func makeDecoder(_ page: TracePage) -> PageDecoder {
        try! PageDecoder(bytes: page.bytes, pageSize: pageSize, cpuCount: cpuCount)
    }

    /// The next event of `decoder`, or nil at the page end; a malformed record ends the page and is
    /// counted (lost_events records are counted too, and still returned). For callers that
    /// interleave pages (the merged stream); single-page loops use `forEachEvent(in:_:)`.
    @inlinable
    public func decodeNext(_ decoder: inout PageDecoder, page: TracePage) -> TimedEvent? {
        do {
            guard let event = try decoder.next() else {
                finishPage(decoder, page: page)
                return nil
            }
            reader.diagnostics.eventsDecoded &+= 1
            if case let .lostEvents(count) = event.event { noteLostEvents(count, page: page) }
            return event
        } catch {
            recordCorruption(error, page: page)
            finishPage(decoder, page: page)
            return nil
        }
    }

    @usableFromInline func finishPage(_ decoder: PageDecoder, page: TracePage) {
        reader.diagnostics.count(.skippedExtensionRecords, UInt64(decoder.skippedExtensionRecords),
                                 detail: "cpu \(page.cpu) sequence \(page.sequence) (stream offset \(page.streamOffset))")
    }

    @usableFromInline func noteLostEvents(_ count: UInt64, page: TracePage) {
        lostEventsRecorded[Int(page.cpu)].addSaturating(count)
        reader.diagnostics.count(.lostEvents, count, detail: "cpu \(page.cpu): \(count) before sequence \(page.sequence)")
    }

    /// Counts a record that could not be decoded (the rest of its page is dropped).
    @usableFromInline func recordCorruption(_ error: RecordDecodeError, page: TracePage) {
        let place = "cpu \(page.cpu) sequence \(page.sequence) (stream offset \(page.streamOffset))"
        if page.isOpenSnapshot {
            reader.diagnostics.count(.openPageTailCut, detail: place)
            return
        }
        switch error {
        case let .varintOverrun(offset):
            reader.diagnostics.count(.recordVarintOverrun, detail: "\(place): varint runs past the used bytes at record offset \(offset)")
        case let .unknownEvent(id, offset):
            reader.diagnostics.count(.recordUnknownEvent, detail: "\(place): event id \(id) at record offset \(offset)")
        case let .fieldOutOfRange(event, offset):
            reader.diagnostics.count(.recordFieldOutOfRange, detail: "\(place): \(event.name) record at record offset \(offset)")
        case let .truncatedRecord(offset):
            reader.diagnostics.count(.recordTruncated, detail: "\(place): record at record offset \(offset) runs past the used bytes")
        }
    }

    /// Checks a page chunk; counts and returns nil when the page must be skipped.
    private func validate(_ chunk: RawChunk) -> TracePage? {
        reader.diagnostics.pagesRead &+= 1
        let place = "page chunk at stream offset \(chunk.streamOffset)"
        var prefix = ByteReader(chunk.payload)
        guard chunk.payload.count >= TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size else {
            reader.diagnostics.count(.pageTooShort, detail: "\(place): \(chunk.payload.count) bytes, a page needs \(TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size)")
            return nil
        }
        let cpu = prefix.u16()!, sequence = prefix.u64()!
        let bytes = UnsafeRawBufferPointer(rebasing: chunk.payload[TraceFileLayout.pageChunkPrefix...])
        let header = PageHeader.load(from: bytes.baseAddress!)
        do {
            try header.validate(pageSize: pageSize, cpuCount: cpuCount)
        } catch {
            var detail = "\(error)"
            if case let .fieldOutOfRange(field, offset, value) = error {
                detail = "\(field) (page offset \(offset)) holds \(value)"
            }
            reader.diagnostics.count(.corruptPageHeader, detail: "\(place) (cpu \(cpu) sequence \(sequence)): \(detail)")
            return nil
        }
        guard header.cpu == cpu, header.sequence == sequence || header.sequence == PageHeader.openMarker, Int(cpu) < cpuCount else {
            reader.diagnostics.count(.pageIdentityMismatch, detail: "\(place): chunk says cpu \(cpu) sequence \(sequence), page header says cpu \(header.cpu) sequence \(header.sequence)")
            return nil
        }
        // The open-page marker is never a ring sequence (a ring would need 2^64 - 1 pages first).
        guard sequence != PageHeader.openMarker else {
            reader.diagnostics.count(.pageIdentityMismatch, detail: "\(place): chunk sequence \(sequence) is the open-page marker, not a ring sequence")
            return nil
        }
        guard bytes.count == PageHeaderLayout.size + Int(header.usedBytes) else {
            reader.diagnostics.count(.pageLengthMismatch, detail: "\(place) (cpu \(cpu) sequence \(sequence)): header says \(header.usedBytes) used bytes, chunk holds \(bytes.count - PageHeaderLayout.size)")
            return nil
        }
        guard header.usedBytes > 0 else {
            reader.diagnostics.count(.emptyPage, detail: "\(place) (cpu \(cpu) sequence \(sequence))")
            return nil
        }
        trackSequence(cpu: Int(cpu), sequence: sequence, place: place)
        return TracePage(cpu: cpu, sequence: sequence, header: header, bytes: bytes, streamOffset: chunk.streamOffset)
    }

    /// Counts pages missing from a CPU's sequence.
    private func trackSequence(cpu: Int, sequence: UInt64, place: String) {
        let overwriteMode = reader.header.region.mode == .overwrite
        if let expected = expectedSequence[cpu] {
            if sequence > expected {
                reader.diagnostics.count(overwriteMode ? .overwrittenPages : .lostPages, sequence - expected,
                                         detail: "cpu \(cpu): sequences \(expected)..<\(sequence) missing before \(place)")
            } else if sequence < expected {
                reader.diagnostics.count(.pageSequenceRegression, detail: "cpu \(cpu): sequence \(sequence) after \(expected - 1) (\(place))")
                return
            }
        } else if sequence > 0 {
            reader.diagnostics.count(overwriteMode ? .overwrittenPages : .lostPages, sequence,
                                     detail: "cpu \(cpu): first page has sequence \(sequence)")
        }
        expectedSequence[cpu] = sequence + 1
    }

    /// At the end of the file: compares the final ring counters with what the pages said.
    private func finish() {
        guard !finished else { return }
        finished = true
        for state in reader.ringStates where Int(state.cpu) < cpuCount {
            let recorded = lostEventsRecorded[Int(state.cpu)]
            if state.lostEvents > recorded {
                reader.diagnostics.count(.lostEventsAtEnd, state.lostEvents - recorded,
                                         detail: "cpu \(state.cpu): ring counted \(state.lostEvents) lost, pages reported \(recorded)")
            }
            let expected = expectedSequence[Int(state.cpu)] ?? 0
            if state.producerSequence > expected {
                reader.diagnostics.count(.lostPages, state.producerSequence - expected,
                                         detail: "cpu \(state.cpu): ring committed \(state.producerSequence) pages, file ends at sequence \(expected)")
            }
        }
    }
}

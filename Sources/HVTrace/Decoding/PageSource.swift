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
    /// Per CPU, for the producer's own count (`RingStateSnapshot.producedEvents`): records of
    /// committed pages decoded or skipped (the producer's lost_events records excluded, as it
    /// excludes them), and events the page headers' `eventCount` says were there but were not decoded.
    @exclusivity(unchecked) private var committedEventsSeen: [UInt64]
    @exclusivity(unchecked) private var damagedEventsPerCPU: [UInt64]
    private var finished = false
    /// Pages `next()` delivered whose decoding has not finished yet (the merged stream holds
    /// several), and whether the producer accounting waits for them (it needs every page).
    @exclusivity(unchecked) private var pagesBeingDecoded = 0
    @exclusivity(unchecked) private var accountingPending = false
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
        committedEventsSeen = Array(repeating: 0, count: cpuCount)
        damagedEventsPerCPU = Array(repeating: 0, count: cpuCount)
        lostEventRecordsSeen = Array(repeating: 0, count: cpuCount)
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
                pagesBeingDecoded += 1
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
        var corrupt = false
        do throws(RecordDecodeError) {
            try decoder.decodeAll(into: &counting)
            complete = decoder.offset >= PageHeaderLayout.size + Int(page.header.usedBytes)
        } catch {
            recordCorruption(error, page: page)
            complete = false
            corrupt = true
        }
        visitor = counting.inner
        reader.diagnostics.eventsDecoded &+= counting.delivered
        if _slowPath(counting.lostEventRecords > 0) { noteLostEvents(counting.lostEvents, page: page) }
        finishPage(decoder, page: page, records: counting.delivered, lostEventRecords: UInt64(counting.lostEventRecords), corrupt: corrupt)
        return complete && counting.delivered &+ UInt64(decoder.skippedExtensionRecords) == UInt64(page.header.eventCount)
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
                finishPage(decoder, page: page, records: UInt64(decoder.recordsReturned), lostEventRecords: nil, corrupt: false)
                return nil
            }
            reader.diagnostics.eventsDecoded &+= 1
            if case let .lostEvents(count) = event.event {
                lostEventRecordsSeen[Int(page.cpu)] &+= 1
                noteLostEvents(count, page: page)
            }
            return event
        } catch {
            recordCorruption(error, page: page)
            finishPage(decoder, page: page, records: UInt64(decoder.recordsReturned), lostEventRecords: nil, corrupt: true)
            return nil
        }
    }

    /// lost_events records `decodeNext` returned per CPU (the per-page path counts them itself).
    @usableFromInline @exclusivity(unchecked) var lostEventRecordsSeen: [UInt64]

    /// The end of one page's decoding: counts skipped extension records, then holds the records
    /// decoded (`records` fixed-shape ones, plus the skipped extension records) against the header's
    /// `eventCount`. Fewer means events were there and are gone: the page was cut at a damaged
    /// record (`corrupt`, already counted by kind), ended at an end-of-records byte inside
    /// `usedBytes` (`records_end_early`), or was cut at a record boundary; the missing events are
    /// counted as `damaged_events`. More means the page was rewritten. `lostEventRecords` nil:
    /// taken from `lostEventRecordsSeen`.
    @usableFromInline func finishPage(_ decoder: PageDecoder, page: TracePage, records: UInt64, lostEventRecords: UInt64?, corrupt: Bool) {
        let place = "cpu \(page.cpu) sequence \(page.sequence) (stream offset \(page.streamOffset))"
        let skipped = UInt64(decoder.skippedExtensionRecords)
        reader.diagnostics.count(.skippedExtensionRecords, skipped, detail: place)
        let cpu = Int(page.cpu)
        pagesBeingDecoded -= 1
        defer { if accountingPending && pagesBeingDecoded == 0 { accountForProducedEvents() } }
        let seen = records &+ skipped, declared = UInt64(page.header.eventCount)
        if !page.isOpenSnapshot {
            var lostRecords: UInt64
            if let lostEventRecords {
                lostRecords = lostEventRecords
            } else {
                lostRecords = lostEventRecordsSeen[cpu]
                lostEventRecordsSeen[cpu] = 0
            }
            // The producer's own lost_events record (first in a page flagged eventsLostBefore) is
            // not one of its events; one an importer appended (ftrace's losses) is.
            let producerRecords: UInt64 = page.header.flags & PageFlags.eventsLostBefore != 0 && lostRecords > 0 ? 1 : 0
            committedEventsSeen[cpu].addSaturating(seen - min(seen, producerRecords))
        } else if lostEventRecords == nil {
            lostEventRecordsSeen[cpu] = 0
        }
        let usedEnd = PageHeaderLayout.size + Int(page.header.usedBytes)
        let endedEarly = !corrupt && decoder.offset < usedEnd
        if endedEarly {
            reader.diagnostics.count(.recordsEndEarly, detail: "\(place): an end-of-records byte at page offset \(decoder.offset), inside the \(page.header.usedBytes) used bytes (which end at \(usedEnd))")
        }
        if seen < declared {
            let missing = declared - seen
            if !corrupt && !endedEarly {
                reader.diagnostics.count(.pageEventCountMismatch, detail: "\(place): header counts \(declared) records, \(seen) decoded before the used bytes ended")
            }
            reader.diagnostics.count(.damagedEvents, missing, detail: "\(place): \(missing) of \(declared) events not decoded")
            if !page.isOpenSnapshot { damagedEventsPerCPU[cpu].addSaturating(missing) }
        } else if seen > declared {
            reader.diagnostics.count(.pageEventCountMismatch, detail: "\(place): header counts \(declared) records, the page holds \(seen) (rewritten, or its header damaged)")
        }
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
            countSkippedPageEvents(header, place: place)
            return nil
        }
        // The open-page marker is never a ring sequence (a ring would need 2^64 - 1 pages first).
        guard sequence != PageHeader.openMarker else {
            reader.diagnostics.count(.pageIdentityMismatch, detail: "\(place): chunk sequence \(sequence) is the open-page marker, not a ring sequence")
            return nil
        }
        guard bytes.count == PageHeaderLayout.size + Int(header.usedBytes) else {
            reader.diagnostics.count(.pageLengthMismatch, detail: "\(place) (cpu \(cpu) sequence \(sequence)): header says \(header.usedBytes) used bytes, chunk holds \(bytes.count - PageHeaderLayout.size)")
            countSkippedPageEvents(header, place: place)
            return nil
        }
        guard header.usedBytes > 0 else {
            reader.diagnostics.count(.emptyPage, detail: "\(place) (cpu \(cpu) sequence \(sequence))")
            return nil
        }
        guard trackSequence(cpu: Int(cpu), sequence: sequence, place: place) else {
            // An older page again (a replay or duplicate): its events were counted once already,
            // and pairing them again would clamp their timestamps into zero-latency exits.
            reader.diagnostics.count(.replayedPageEvents, UInt64(header.eventCount), detail: "\(place) (cpu \(cpu) sequence \(sequence)): \(header.eventCount) events not decoded again")
            return nil
        }
        return TracePage(cpu: cpu, sequence: sequence, header: header, bytes: bytes, streamOffset: chunk.streamOffset)
    }

    /// A skipped page whose header is valid on its own: the events it says it holds are damaged.
    /// Only for pages of a real CPU (the per-CPU sums feed the producer accounting in `finish`).
    private func countSkippedPageEvents(_ header: PageHeader, place: String) {
        guard header.eventCount > 0 else { return }
        reader.diagnostics.count(.damagedEvents, UInt64(header.eventCount), detail: "\(place): \(header.eventCount) events in a skipped page")
        if Int(header.cpu) < cpuCount && header.sequence != PageHeader.openMarker {
            damagedEventsPerCPU[Int(header.cpu)].addSaturating(UInt64(header.eventCount))
        }
    }

    /// Counts pages missing from a CPU's sequence; false for a page at or below the CPU's latest
    /// (counted as a regression; the caller skips it).
    private func trackSequence(cpu: Int, sequence: UInt64, place: String) -> Bool {
        let overwriteMode = reader.header.region.mode == .overwrite
        if let expected = expectedSequence[cpu] {
            if sequence > expected {
                reader.diagnostics.count(overwriteMode ? .overwrittenPages : .lostPages, sequence - expected,
                                         detail: "cpu \(cpu): sequences \(expected)..<\(sequence) missing before \(place)")
            } else if sequence < expected {
                reader.diagnostics.count(.pageSequenceRegression, detail: "cpu \(cpu): sequence \(sequence) after \(expected - 1) (\(place)); page skipped")
                return false
            }
        } else if sequence > 0 {
            reader.diagnostics.count(overwriteMode ? .overwrittenPages : .lostPages, sequence,
                                     detail: "cpu \(cpu): first page has sequence \(sequence)")
        }
        expectedSequence[cpu] = sequence + 1
        return true
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
        if pagesBeingDecoded == 0 { accountForProducedEvents() } else { accountingPending = true }
    }

    /// `accountForProducedEvents(_:)` for every CPU's final ring state, once. Events the reader
    /// already counted in corrupt frames (`corrupt_frame_events`, from the seek index, not split by
    /// CPU) are taken off the CPUs' unaccounted events first, so no event is counted twice.
    private func accountForProducedEvents() {
        accountingPending = false
        var inCorruptFrames = reader.diagnostics[.corruptFrameEvents]
        for state in reader.ringStates where Int(state.cpu) < cpuCount {
            accountForProducedEvents(state, alreadyCounted: &inCorruptFrames)
        }
        reader.diagnostics.count(.eventsBeyondProduced, inCorruptFrames,
                                 detail: "\(inCorruptFrames) of the events counted in corrupt frames are beyond the producers' counts")
    }

    /// Exact accounting against the producer's own count: every event it was handed
    /// (`producedEvents`, written or dropped) is decoded from a committed page, dropped by the ring
    /// (its final `lostEvents`), or counted damaged. The rest were in pages
    /// the file does not hold (never drained, overwritten, or skipped unseen): `unaccounted_events`.
    /// More decoded than produced means pages were duplicated or rewritten, or the ring state lies.
    private func accountForProducedEvents(_ state: RingStateSnapshot, alreadyCounted: inout UInt64) {
        let cpu = Int(state.cpu)
        let accounted = committedEventsSeen[cpu].saturatingAdd(state.lostEvents).saturatingAdd(damagedEventsPerCPU[cpu])
        if state.producedEvents > accounted {
            var missing = state.producedEvents - accounted
            let known = min(missing, alreadyCounted)
            alreadyCounted -= known
            missing -= known
            guard missing > 0 else { return }
            reader.diagnostics.count(.unaccountedEvents, missing,
                                     detail: "cpu \(state.cpu): ring produced \(state.producedEvents) events; \(committedEventsSeen[cpu]) decoded, \(state.lostEvents) dropped by the ring, \(damagedEventsPerCPU[cpu]) damaged")
        } else if accounted > state.producedEvents {
            reader.diagnostics.count(.eventsBeyondProduced, accounted - state.producedEvents,
                                     detail: "cpu \(state.cpu): ring produced \(state.producedEvents) events; \(committedEventsSeen[cpu]) decoded, \(state.lostEvents) dropped by the ring, \(damagedEventsPerCPU[cpu]) damaged")
        }
    }
}

// Everything a decoder noticed while reading a trace, as one list of named counters in the style of
// Perfetto's trace-processor stats (src/trace_processor/storage/stats.h): each counter is declared
// once with a severity and a description, every command prints the non-zero ones.

/// How bad a counter is.
public enum DiagnosticSeverity: String, Sendable {
    /// Expected bookkeeping; nothing is wrong.
    case info
    /// The trace is valid but events are missing (ring full, pages overwritten, file cut short).
    case dataLoss = "data_loss"
    /// The trace holds bytes that cannot be right (corruption); they were skipped.
    case error
}

/// One kind of problem (or noteworthy fact) the decoder counts.
public enum DiagnosticKind: Int, CaseIterable, Sendable {
    case pageTooShort
    case corruptPageHeader
    case pageLengthMismatch
    case pageIdentityMismatch
    case emptyPage
    case recordVarintOverrun
    case recordUnknownEvent
    case recordFieldOutOfRange
    case recordTruncated
    case openPageTailCut
    case skippedExtensionRecords
    case skippedUnknownChunks
    case lostEvents
    case lostEventsAtEnd
    case lostPages
    case overwrittenPages
    case pageSequenceRegression
    case corruptChunk
    case corruptCompressedData
    case readError
    case truncatedFile
    case mergeReadAheadLimit
    case counterSaturated
    case corruptFrame
    case corruptFrameEvents
    case seekIndexRebuilt
    case pageEventCountMismatch
    case recordsEndEarly
    case damagedEvents
    case replayedPageEvents
    case unaccountedEvents
    case eventsBeyondProduced
    case chunksAfterEnd
    case mergeOutOfOrder

    /// The counter's stable name (printed, and matched by tests and scripts).
    public var name: String {
        switch self {
        case .pageTooShort: return "page_too_short"
        case .corruptPageHeader: return "corrupt_page_header"
        case .pageLengthMismatch: return "page_length_mismatch"
        case .pageIdentityMismatch: return "page_identity_mismatch"
        case .emptyPage: return "empty_page"
        case .recordVarintOverrun: return "record_varint_overrun"
        case .recordUnknownEvent: return "record_unknown_event"
        case .recordFieldOutOfRange: return "record_field_out_of_range"
        case .recordTruncated: return "record_truncated"
        case .openPageTailCut: return "open_page_tail_cut"
        case .skippedExtensionRecords: return "skipped_extension_records"
        case .skippedUnknownChunks: return "skipped_unknown_chunks"
        case .lostEvents: return "lost_events"
        case .lostEventsAtEnd: return "lost_events_at_end"
        case .lostPages: return "lost_pages"
        case .overwrittenPages: return "overwritten_pages"
        case .pageSequenceRegression: return "page_sequence_regression"
        case .corruptChunk: return "corrupt_chunk"
        case .corruptCompressedData: return "corrupt_compressed_data"
        case .readError: return "read_error"
        case .truncatedFile: return "truncated_file"
        case .mergeReadAheadLimit: return "merge_read_ahead_limit"
        case .counterSaturated: return "counter_saturated"
        case .corruptFrame: return "corrupt_frame"
        case .corruptFrameEvents: return "corrupt_frame_events"
        case .seekIndexRebuilt: return "seek_index_rebuilt"
        case .pageEventCountMismatch: return "page_event_count_mismatch"
        case .recordsEndEarly: return "records_end_early"
        case .damagedEvents: return "damaged_events"
        case .replayedPageEvents: return "replayed_page_events"
        case .unaccountedEvents: return "unaccounted_events"
        case .eventsBeyondProduced: return "events_beyond_produced"
        case .chunksAfterEnd: return "chunks_after_end"
        case .mergeOutOfOrder: return "merge_out_of_order"
        }
    }

    public var severity: DiagnosticSeverity {
        switch self {
        case .openPageTailCut, .skippedExtensionRecords, .skippedUnknownChunks, .seekIndexRebuilt: return .info
        case .lostEvents, .lostEventsAtEnd, .lostPages, .overwrittenPages, .truncatedFile, .emptyPage, .corruptFrameEvents,
             .unaccountedEvents: return .dataLoss
        default: return .error
        }
    }

    public var description: String {
        switch self {
        case .pageTooShort: return "page chunks too short to hold a page header; page skipped"
        case .corruptPageHeader: return "page headers with an impossible field (used bytes, CPU, flags); page skipped"
        case .pageLengthMismatch: return "page chunks whose length disagrees with the header's used bytes; page skipped"
        case .pageIdentityMismatch: return "page headers whose CPU or sequence disagree with their chunk; page skipped"
        case .emptyPage: return "committed pages without records (the producer never commits those)"
        case .recordVarintOverrun: return "pages cut at a varint running past the used bytes; rest of page dropped"
        case .recordUnknownEvent: return "pages cut at an unknown fixed-range event id; rest of page dropped"
        case .recordFieldOutOfRange: return "pages cut at a record with an impossible field; rest of page dropped"
        case .recordTruncated: return "pages cut at a record running past the used bytes; rest of page dropped"
        case .openPageTailCut: return "snapshots of a page still being written that end mid-record (expected)"
        case .skippedExtensionRecords: return "extension records (ids 64-127) this decoder does not know, skipped"
        case .skippedUnknownChunks: return "file chunks of a type this reader does not know, skipped"
        case .lostEvents: return "events the producer dropped because its ring was full (lost_events records)"
        case .lostEventsAtEnd: return "events dropped after the last page (from the final ring counters)"
        case .lostPages: return "pages missing from a CPU's sequence (never drained)"
        case .overwrittenPages: return "pages the flight recorder overwrote before they were drained"
        case .pageSequenceRegression: return "pages whose sequence is not above the CPU's previous page (a replay or duplicate); page skipped"
        case .corruptChunk: return "chunks with an impossible length; the rest of the file is unreadable"
        case .corruptCompressedData: return "zstd rejected the compressed data; the rest of the file is unreadable"
        case .readError: return "read errors; the rest of the file is unreadable"
        case .truncatedFile: return "the file ends before its end chunk; every complete page before the cut was decoded"
        case .mergeReadAheadLimit: return "the time-ordered merge read too far ahead without a watermark; some events may be out of order across CPUs"
        case .corruptFrame: return "zstd frames that failed to decompress or ended inside a chunk; the rest of that frame was skipped, later frames were decoded"
        case .corruptFrameEvents: return "events the seek index lists for corrupt frames beyond those decoded from them"
        case .seekIndexRebuilt: return "the seek index was missing or damaged; the frame list was rebuilt by scanning the zstd frame headers"
        case .counterSaturated: return "counters that reached 2^64-1 and stopped there instead of wrapping (the trace claims impossibly many events or pages)"
        case .pageEventCountMismatch: return "pages whose records disagree with the header's eventCount (cut at a record boundary, or rewritten)"
        case .recordsEndEarly: return "pages whose records end (id byte 0) inside their used bytes; the bytes after it were ignored"
        case .damagedEvents: return "events page headers count that could not be decoded (cut or skipped pages)"
        case .replayedPageEvents: return "events in pages skipped as replays (page_sequence_regression), so not counted twice"
        case .unaccountedEvents: return "events the producer counted (ring producedEvents) that are neither decoded nor counted lost or damaged: in pages the file lacks"
        case .eventsBeyondProduced: return "events decoded or counted beyond the producer's count (ring producedEvents): duplicated or rewritten pages, or a damaged ring-state chunk"
        case .chunksAfterEnd: return "an end chunk in the middle of the file: the chunks after it were read anyway"
        case .mergeOutOfOrder: return "events the time-ordered merge emitted after a later one (time went backwards on a CPU, or a watermark lied)"
        }
    }
}

/// The counters, plus the first few occurrences of each with their offsets.
public struct DecodeDiagnostics: Equatable, Sendable {
    /// How many occurrences of one kind keep a detail line.
    public static let detailsPerKind = 5

    private var counts = [UInt64](repeating: 0, count: DiagnosticKind.allCases.count)
    private var details = [[String]](repeating: [], count: DiagnosticKind.allCases.count)
    /// Page chunks seen / decoded without any problem.
    public var pagesRead: UInt64 = 0
    /// Events delivered (lost_events records included).
    public var eventsDecoded: UInt64 = 0

    public init() {}

    public subscript(kind: DiagnosticKind) -> UInt64 { counts[kind.rawValue] }

    /// Adds `amount` to `kind`, keeping `detail` if fewer than `detailsPerKind` are kept already.
    /// Counters saturate at `UInt64.max` (a damaged trace can claim any count; wrapping would turn
    /// two huge claims into a small believable number); the first time one does, `counter_saturated`
    /// counts it and names it.
    public mutating func count(_ kind: DiagnosticKind, _ amount: UInt64 = 1, detail: @autoclosure () -> String? = nil) {
        guard amount > 0 else { return }
        let before = counts[kind.rawValue]
        counts[kind.rawValue].addSaturating(amount)
        if details[kind.rawValue].count < Self.detailsPerKind, let text = detail() {
            details[kind.rawValue].append(text)
        }
        if counts[kind.rawValue] == .max && before != .max && kind != .counterSaturated {
            count(.counterSaturated, detail: "\(kind.name) reached 2^64-1")
        }
    }

    public func details(_ kind: DiagnosticKind) -> [String] { details[kind.rawValue] }

    /// The kinds with a non-zero count, in declaration order.
    public var reported: [DiagnosticKind] { DiagnosticKind.allCases.filter { counts[$0.rawValue] > 0 } }

    /// True when some counter of severity `error` is non-zero.
    public var hasErrors: Bool { reported.contains { $0.severity == .error } }

    /// The block every command prints (to stderr): a summary line, then one line per non-zero
    /// counter (name, count, severity, description) and its detail lines.
    public func rendered() -> String {
        var lines = ["diagnostics: \(pagesRead) pages, \(eventsDecoded) events, " +
                     (reported.isEmpty ? "no problems" : reported.count == 1 ? "1 kind of problem" : "\(reported.count) kinds of problem")]
        let width = reported.map { $0.name.count }.max() ?? 0
        for kind in reported {
            let padded = kind.name + String(repeating: " ", count: width - kind.name.count)
            lines.append("  \(padded) \(counts[kind.rawValue]) \(kind.severity.rawValue): \(kind.description)")
            for detail in details[kind.rawValue] { lines.append("    \(detail)") }
        }
        return lines.joined(separator: "\n")
    }
}

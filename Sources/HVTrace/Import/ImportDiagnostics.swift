// What `hvtrace import` noticed about its input, one list of counters declared once (as
// DecodeDiagnostics does for .hvt files): printed by the command and kept in the .hvt metadata.

/// One kind of thing the importer counts.
public enum ImportCounter: Int, CaseIterable, Sendable {
    /// Lines that are neither events, lost-events lines nor headers.
    case unknownLines
    /// options/raw lines whose event type has no name (no `--event-ids` for it).
    case rawLinesWithoutName
    /// options/raw lines of events other than kvm_exit/kvm_entry: raw output has no fields to map.
    case rawEventsWithoutFields
    /// Events of a kind hvtrace does not map onto its catalogue (counted by name, see `unmappedEvents`).
    case unmappedEvents
    /// Events (other than exits, entries and vgic updates) of a thread with no exit open: the
    /// capture began or lost events mid-exit, or the thread never ran a vCPU.
    case eventsOutsideExits
    /// vgic_update_irq_pending while the target vCPU was not in an exit (it ran in the guest), or
    /// with level 0 (the line went low).
    case interruptUpdatesNotMapped
    /// kvm_exit with HYP_GONE (the hypervisor went away): no exit is opened.
    case hypervisorGoneExits
    /// kvm_wfx_arm64 printed without its kind (trace-cmd's `wf>c<`): the exit counts as WFI.
    case waitKindUnknown
    /// Events dropped by ftrace's ring buffer (lost-events lines; at least 1 for "[LOST EVENTS]").
    case lostEvents
    /// Events overwritten before the capture was read (the trace file's entries-written − entries-in-buffer).
    case overwrittenEvents
    /// Events stamped earlier than the previous event of their vCPU (clamped to it).
    case nonMonotonicTimestamps
    /// Lines stamped earlier than the line before them (the capture is not in time order).
    case outOfOrderLines

    public var name: String {
        switch self {
        case .unknownLines: return "unknown_lines"
        case .rawLinesWithoutName: return "raw_lines_without_event_name"
        case .rawEventsWithoutFields: return "raw_events_without_fields"
        case .unmappedEvents: return "unmapped_events"
        case .eventsOutsideExits: return "events_outside_exits"
        case .interruptUpdatesNotMapped: return "vgic_updates_not_mapped"
        case .hypervisorGoneExits: return "hyp_gone_exits"
        case .waitKindUnknown: return "wfx_kind_unknown"
        case .lostEvents: return "lost_events"
        case .overwrittenEvents: return "overwritten_events"
        case .nonMonotonicTimestamps: return "non_monotonic_timestamps"
        case .outOfOrderLines: return "out_of_order_lines"
        }
    }

    public var severity: DiagnosticSeverity {
        switch self {
        case .lostEvents, .overwrittenEvents: return .dataLoss
        case .nonMonotonicTimestamps, .outOfOrderLines: return .error
        default: return .info
        }
    }

    public var description: String {
        switch self {
        case .unknownLines: return "lines that are no ftrace event, lost-events or header line; skipped"
        case .rawLinesWithoutName: return "options/raw lines whose type id --event-ids does not name; skipped"
        case .rawEventsWithoutFields: return "options/raw lines of events other than kvm_exit/kvm_entry (raw output prints no fields; exits have reason UNKNOWN); skipped"
        case .unmappedEvents: return "events hvtrace has no catalogue entry for; skipped"
        case .eventsOutsideExits: return "events of a thread with no exit open (capture began or lost events mid-exit, or not a vCPU thread); skipped"
        case .interruptUpdatesNotMapped: return "vgic_update_irq_pending outside the target vCPU's exits or with level 0; skipped"
        case .hypervisorGoneExits: return "kvm_exit HYP_GONE (no exit opened)"
        case .waitKindUnknown: return "kvm_wfx_arm64 without wfi/wfe (trace-cmd prints 'wf>c<'): the exit counts as WFI"
        case .lostEvents: return "events ftrace's ring buffer dropped (LOST / EVENTS DROPPED lines)"
        case .overwrittenEvents: return "events overwritten before the capture was read (entries-written minus entries-in-buffer)"
        case .nonMonotonicTimestamps: return "events earlier than the previous one of their vCPU (clamped)"
        case .outOfOrderLines: return "lines earlier than the line before them (not in time order: no watermarks written)"
        }
    }
}

/// The importer's counters, the first few unknown lines, and the unmapped events by name.
public struct ImportDiagnostics: Equatable, Sendable {
    public static let samplesKept = 5
    private var counts = [UInt64](repeating: 0, count: ImportCounter.allCases.count)
    /// The first unknown lines: line number and text (cut at 120 characters).
    public private(set) var unknownLineSamples: [(line: Int, text: String)] = []
    /// Unmapped events by name, with their count.
    public private(set) var unmappedEventsByName: [String: UInt64] = [:]

    public init() {}

    public subscript(counter: ImportCounter) -> UInt64 { counts[counter.rawValue] }

    mutating func count(_ counter: ImportCounter, _ amount: UInt64 = 1) { counts[counter.rawValue] &+= amount }

    mutating func unknownLine(_ number: Int, _ text: String) {
        count(.unknownLines)
        if unknownLineSamples.count < Self.samplesKept { unknownLineSamples.append((number, String(text.prefix(120)))) }
    }

    mutating func unmapped(_ name: String) {
        count(.unmappedEvents)
        unmappedEventsByName[name, default: 0] += 1
    }

    public static func == (lhs: ImportDiagnostics, rhs: ImportDiagnostics) -> Bool {
        lhs.counts == rhs.counts && lhs.unmappedEventsByName == rhs.unmappedEventsByName
            && lhs.unknownLineSamples.map(\.line) == rhs.unknownLineSamples.map(\.line)
    }

    /// The non-zero counters, in declaration order.
    public var reported: [ImportCounter] { ImportCounter.allCases.filter { counts[$0.rawValue] > 0 } }

    /// The block `hvtrace import` prints: one line per non-zero counter, then the samples.
    public func rendered() -> String {
        var lines = ["import diagnostics: " + (reported.isEmpty ? "no problems" : "\(reported.count) kind\(reported.count == 1 ? "" : "s") of note")]
        let width = reported.map { $0.name.count }.max() ?? 0
        for counter in reported {
            lines.append("  \(counter.name.padding(width)) \(counts[counter.rawValue]) \(counter.severity.rawValue): \(counter.description)")
            if counter == .unknownLines {
                for sample in unknownLineSamples { lines.append("    line \(sample.line): \(sample.text)") }
            }
            if counter == .unmappedEvents {
                let names = unmappedEventsByName.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                lines.append("    " + names.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The counters as .hvt metadata entries (`import.NAME`), unmapped events by name in one entry.
    var metadata: [MetadataEntry] {
        var entries = reported.map { MetadataEntry(key: "import.\($0.name)", value: String(counts[$0.rawValue])) }
        if !unmappedEventsByName.isEmpty {
            let names = unmappedEventsByName.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            entries.append(MetadataEntry(key: "import.unmapped_events_by_name", value: names))
        }
        if !unknownLineSamples.isEmpty {
            entries.append(MetadataEntry(key: "import.first_unknown_lines",
                                         value: unknownLineSamples.map { "\($0.line)" }.joined(separator: ",")))
        }
        return entries
    }
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

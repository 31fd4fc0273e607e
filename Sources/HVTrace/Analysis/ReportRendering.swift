// Text and markdown renderings of an `ExitReport`. Text fits in 100 columns; markdown is what goes
// into `reports/`. Both are deterministic (snapshot-tested).

import Foundation

/// The output formats every analysis command offers.
public enum OutputFormat: String, CaseIterable, Sendable {
    /// html: one self-contained page (Rendering/HTML); from a trace the commands add the timeline
    /// and flame graph a summary does not hold.
    case text, json, markdown, html
}

/// A result the tool prints in every `OutputFormat` (`ExitReport`, `Comparison`): it supplies text
/// and markdown; the stable JSON encoding and the choice by format are the same for all.
public protocol RenderableOutput: Encodable {
    func text() -> String
    func markdown() -> String
    func html() -> String
}

extension RenderableOutput {
    /// The stable JSON encoding (sorted keys, pretty-printed, trailing newline).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// The result in `format`.
    public func rendered(as format: OutputFormat) throws -> String {
        switch format {
        case .text: return text()
        case .markdown: return markdown()
        case .html: return html()
        case .json: return String(decoding: try jsonData(), as: UTF8.self)
        }
    }
}

/// A column-aligned table: columns in `leftAligned` (the first by default) left-aligned, the rest
/// right-aligned.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    var leftAligned: Set<Int> = [0]

    func render(indent: String = "") -> String {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            var text = indent
            for (index, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                let aligned = leftAligned.contains(index) ? cell + pad : pad + cell
                text += index == 0 ? aligned : "  " + aligned
            }
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    func markdown() -> String {
        var text = "| " + header.joined(separator: " | ") + " |\n"
        text += "|" + header.indices.map { leftAligned.contains($0) ? " --- |" : " ---: |" }.joined() + "\n"
        for row in rows { text += "| " + row.joined(separator: " | ") + " |\n" }
        return text
    }
}

/// Number formatting shared by the renderers.
enum Format {
    /// An integer with no separators.
    /// Any Double: values beyond Int64 (latencies of a corrupt trace with a slow clock) are printed
    /// with `%.0f` instead of trapping in the conversion.
    static func integer(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
        return value.magnitude < 9.2e18 ? String(Int64(value.rounded())) : String(format: "%.0f", value)
    }
    static func integer(_ value: UInt64) -> String { String(value) }
    /// A fraction 0…1 as a percentage with one decimal.
    static func percent(_ fraction: Double) -> String { String(format: "%.1f", fraction * 100) }
    static func decimal(_ value: Double, places: Int = 1) -> String { String(format: "%.\(places)f", value) }

    /// A duration in nanoseconds with a readable unit (`812 ns`, `12.3 us`, `4.56 ms`, `7.89 s`).
    static func duration(nanoseconds value: Double) -> String {
        switch value {
        case ..<1_000: return "\(integer(value)) ns"
        case ..<1_000_000: return decimal(value / 1e3, places: 2) + " us"
        case ..<1_000_000_000: return decimal(value / 1e6, places: 2) + " ms"
        default: return decimal(value / 1e9, places: 2) + " s"
        }
    }

    /// A power of two with a K/M/G suffix, as bpftrace labels its buckets.
    static func power(_ value: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 60, "E"), (1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        for (unit, suffix) in units where value >= unit && value % unit == 0 { return "\(value / unit)\(suffix)" }
        return String(value)
    }
}

extension ExitReport.Encoding {
    /// One line: `3.87 ring bytes/event (3.80 records only, 14 pages), 0.22 file bytes/event`.
    var summary: String {
        "\(Format.decimal(ringBytesPerEvent, places: 2)) ring bytes/event "
            + "(\(Format.decimal(recordBytesPerEvent, places: 2)) records only, \(pages) pages), "
            + "\(Format.decimal(fileBytesPerEvent, places: 2)) file bytes/event"
    }
}

extension ExitReport: RenderableOutput {
    /// The first table: how often and how long.
    func shareTable(_ rows: [ReportRow], grouped: Bool) -> TextTable {
        var table = TextTable(header: (grouped ? ["reason", "group"] : ["reason"]) + ["count", "exits%", "time%", "total"])
        for row in rows {
            table.rows.append((grouped ? [row.reason, row.group ?? "-"] : [row.reason])
                + [Format.integer(row.count), Format.percent(row.shareOfExits), Format.percent(row.shareOfTime),
                   Format.duration(nanoseconds: Double(row.totalTicks) * 1e9 / Double(trace.clockFrequencyHz))])
        }
        return table
    }

    /// A latency table in ns or ticks.
    func latencyTable(_ rows: [ReportRow], grouped: Bool, inTicks: Bool) -> TextTable {
        var table = TextTable(header: (grouped ? ["reason", "group"] : ["reason"])
            + ["min", "p50", "p90", "p99", "p99.9", "max", "mean"])
        for row in rows {
            let summary = inTicks ? row.ticks : row.nanoseconds
            table.rows.append((grouped ? [row.reason, row.group ?? "-"] : [row.reason])
                + [summary.min, summary.p50, summary.p90, summary.p99, summary.p999, summary.max, summary.mean]
                    .map(Format.integer))
        }
        return table
    }

    /// bpftrace-style `hist()` bars for one row, 50 characters at the fullest bucket.
    func histogramText(_ row: ReportRow) -> String {
        let fullest = row.log2Histogram.map(\.count).max() ?? 0
        var text = ""
        for bucket in row.log2Histogram {
            let label = bucket.lowNs == 0 && bucket.highNs == 1
                ? "[0]" : "[\(Format.power(bucket.lowNs)), \(bucket.highNs == .max ? "inf" : Format.power(bucket.highNs)))"
            let width = fullest == 0 ? 0 : Int((Double(bucket.count) * 50 / Double(fullest)).rounded(.up))
            let bar = String(repeating: "@", count: width) + String(repeating: " ", count: 50 - width)
            let count = String(bucket.count)
            text += label.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(1, 12 - count.count)) + count + " |" + bar + "|\n"
        }
        return text
    }

    /// The lost-events / unmatched / decode-error summary: one loud line when anything went wrong.
    func problemsText(markdown: Bool) -> String {
        let problems = self.problems
        var text = ""
        if problems.isEmpty {
            text += markdown ? "No lost events, unmatched exits or decode errors.\n" : "data quality: ok (no lost events, unmatched exits or decode errors)\n"
        } else {
            text += markdown ? "**Warning: the trace is incomplete; numbers below count only what was seen.**\n\n"
                             : "!!! DATA QUALITY WARNING: the trace is incomplete; statistics cover paired exits only !!!\n"
        }
        var table = TextTable(header: ["diagnostic", "severity", "value", "meaning"], leftAligned: [0, 1, 3])
        let shown = diagnostics.filter { $0.value > 0 }
        if shown.isEmpty { return text }
        for entry in shown {
            table.rows.append([entry.name, entry.severity.rawValue, String(entry.value), entry.description])
        }
        text += markdown ? "\n" + table.markdown() : table.render(indent: "  ")
        return text
    }

    /// Every event the trace is known to lack: dropped by the ring (lost_events records and the
    /// final ring counters), in corrupt frames (from the seek index) and in pages the file does
    /// not hold (from the producer's count).
    public var eventsLost: UInt64 {
        ["lost_events", "lost_events_at_end", "corrupt_frame_events", "unaccounted_events"].map { name in
            diagnostics.first { $0.name == name }?.value ?? 0
        }.saturatingSum()
    }

    /// Events the page headers count that could not be decoded (cut or skipped damaged pages).
    public var eventsDamaged: UInt64 { diagnostics.first { $0.name == "damaged_events" }?.value ?? 0 }

    /// The headline's loss line: lost and, when any, damaged events.
    var lossSummary: String {
        "lost events: \(eventsLost)" + (eventsDamaged > 0 ? ", damaged events: \(eventsDamaged)" : "")
    }

    /// The first line of the report when anything was lost, unmatched or corrupt: what and how
    /// much, in capitals, so a glance at the top of the report (or `head -1`) shows it. nil when the
    /// trace is complete.
    public var lossBanner: String? {
        guard !problems.isEmpty else { return nil }
        func value(_ name: String) -> UInt64 { diagnostics.first { $0.name == name }?.value ?? 0 }
        var parts: [String] = []
        if eventsLost > 0 { parts.append("\(eventsLost) events LOST") }
        if eventsDamaged > 0 { parts.append("\(eventsDamaged) events DAMAGED") }
        let pages = value("lost_pages").saturatingAdd(value("overwritten_pages"))
        if pages > 0 { parts.append("\(pages) pages LOST") }
        let unmatched = [pairing.entriesFollowedByEntry, pairing.entriesCutByLostData, pairing.returnsWithoutEntry].saturatingSum()
        if unmatched > 0 { parts.append("\(unmatched) exits UNMATCHED") }
        if value("truncated_file") > 0 { parts.append("file TRUNCATED") }
        let errors = problems.filter { $0.severity == .error && $0.name != "damaged_events" }.map(\.value).saturatingSum()
        if errors > 0 { parts.append("\(errors) decode ERRORS") }
        if parts.isEmpty { parts.append(problems.map(\.name).joined(separator: ", ")) }
        return "!!! INCOMPLETE TRACE: " + parts.joined(separator: ", ") + " (see data quality below) !!!"
    }

    /// The aligned text report (≤ 100 columns except for very long names).
    public func text() -> String {
        var text = lossBanner.map { $0 + "\n" } ?? ""
        text += "hvtrace report"
        if let source = trace.source { text += ": \(source)" }
        text += "\n"
        if let inputs = trace.mergedFrom { text += "merged from \(inputs.count) inputs: " + inputs.joined(separator: ", ") + "\n" }
        text += "duration \(Format.duration(nanoseconds: trace.durationNs)) (\(trace.durationTicks) ticks at "
            + "\(trace.clockFrequencyHz) Hz), \(trace.cpuCount) CPUs, \(trace.events) events\n"
        text += "exits \(totals.exits) (\(Format.decimal(totals.exitsPerSecond)) /s), hypervisor time "
            + "\(Format.duration(nanoseconds: totals.hypervisorNs)) (\(totals.hypervisorTicks) ticks)\n"
        text += "unmatched: \(pairing.unmatchedEntries) entries, \(pairing.unmatchedReturns) returns; "
            + lossSummary + "\n"
        if let encoding { text += "encoding: " + encoding.summary + "\n" }
        text += "\n"
        text += problemsText(markdown: false) + "\n"
        text += "Exits by reason\n" + shareTable(reasons, grouped: false).render(indent: "  ") + "\n"
        text += "Latency (ns)\n" + latencyTable(reasons, grouped: false, inTicks: false).render(indent: "  ") + "\n"
        text += "Latency (ticks)\n" + latencyTable(reasons, grouped: false, inTicks: true).render(indent: "  ")
        if let grouping {
            text += "\nExits by reason and \(grouping.rawValue)\n" + shareTable(groups, grouped: true).render(indent: "  ")
            text += "\nLatency by \(grouping.rawValue) (ns)\n" + latencyTable(groups, grouped: true, inTicks: false).render(indent: "  ")
        }
        for row in reasons {
            text += "\n@\(row.reason) latency (ns):\n" + histogramText(row)
        }
        return text
    }

    /// The markdown report for `reports/`.
    public func markdown() -> String {
        var text = "# hvtrace exit report\n\n"
        if let lossBanner { text += "**\(lossBanner)**\n\n" }
        if let source = trace.source { text += "Trace: `\(source)`\n\n" }
        if let inputs = trace.mergedFrom {
            text += "Merged from \(inputs.count) inputs: " + inputs.map { "`\($0)`" }.joined(separator: ", ") + "\n\n"
        }
        text += "| | |\n| --- | ---: |\n"
        text += "| duration | \(Format.duration(nanoseconds: trace.durationNs)) (\(trace.durationTicks) ticks) |\n"
        text += "| clock | \(trace.clockFrequencyHz) Hz |\n"
        text += "| CPUs | \(trace.cpuCount) |\n| events | \(trace.events) |\n"
        text += "| exits | \(totals.exits) |\n| exits/s | \(Format.decimal(totals.exitsPerSecond)) |\n"
        text += "| hypervisor time | \(Format.duration(nanoseconds: totals.hypervisorNs)) |\n"
        text += "| unmatched entries / returns | \(pairing.unmatchedEntries) / \(pairing.unmatchedReturns) |\n"
        text += "| lost events | \(eventsLost) |\n"
        if eventsDamaged > 0 { text += "| damaged events | \(eventsDamaged) |\n" }
        if let encoding { text += "| encoding | \(encoding.summary) |\n" }
        text += "\n"
        text += "## Data quality\n\n" + problemsText(markdown: true) + "\n"
        text += "## Exits by reason\n\n" + shareTable(reasons, grouped: false).markdown() + "\n"
        text += "## Latency (ns)\n\n" + latencyTable(reasons, grouped: false, inTicks: false).markdown() + "\n"
        text += "## Latency (ticks)\n\n" + latencyTable(reasons, grouped: false, inTicks: true).markdown()
        if let grouping {
            text += "\n## Exits by reason and \(grouping.rawValue)\n\n" + shareTable(groups, grouped: true).markdown()
            text += "\n## Latency by \(grouping.rawValue) (ns)\n\n" + latencyTable(groups, grouped: true, inTicks: false).markdown()
        }
        text += "\n## Histograms (ns)\n"
        for row in reasons {
            text += "\n### \(row.reason)\n\n```\n" + histogramText(row) + "```\n"
        }
        return text
    }
}

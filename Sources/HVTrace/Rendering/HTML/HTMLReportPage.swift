// `report --format html`: one file a newcomer opens to see where the hypervisor's time goes —
// the summary and data quality, the per-reason table, latency histograms per reason, the timeline
// of every physical CPU and an interactive flame graph.

/// The HTML report of one trace (or of a merge).
public struct HTMLReportPage {
    public var report: ExitReport
    /// The flame graph (nil when the inputs were JSON summaries only).
    public var flame: FlameNode?
    /// A timeline per trace input (name, timeline), none for summaries.
    public var timelines: [(name: String, timeline: Timeline, start: UInt64)]
    /// Lines shown under the summary (what the page could not show, and why).
    public var notes: [String]

    public init(report: ExitReport, flame: FlameNode? = nil, timelines: [(name: String, timeline: Timeline, start: UInt64)] = [],
                notes: [String] = []) {
        self.report = report
        self.flame = flame
        self.timelines = timelines
        self.notes = notes
    }

    public func render() -> String {
        let trace = report.trace, totals = report.totals, clock = trace.clockFrequencyHz
        let source = trace.source ?? trace.mergedFrom.map { "merged from " + $0.joined(separator: ", ") } ?? "in-memory trace"
        var body = ""
        if let banner = report.lossBanner { body += "<div class=\"banner\">\(Markup.escape(banner))</div>\n" }
        body += "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">"
        body += HTMLPage.card("duration", Format.duration(nanoseconds: trace.durationNs), "\(trace.durationTicks) ticks at \(clock) Hz")
        body += HTMLPage.card("exits", String(totals.exits), "\(Format.rate(totals.exitsPerSecond)) per second")
        let cpuTime = trace.durationNs * Double(max(1, trace.cpuCount))
        body += HTMLPage.card("hypervisor time", Format.duration(nanoseconds: totals.hypervisorNs),
                              cpuTime > 0 ? "\(Format.percent(totals.hypervisorNs / cpuTime)) % of CPU time" : "")
        if let top = report.reasons.first {
            body += HTMLPage.card("most time in", top.reason, "\(Format.percent(top.shareOfTime)) % of hypervisor time")
        }
        body += HTMLPage.card("CPUs", String(trace.cpuCount), "\(trace.events) events")
        body += HTMLPage.card("unmatched / lost", "\(report.pairing.unmatchedEntries + report.pairing.unmatchedReturns) / \(report.eventsLost)",
                              "exits / events")
        if let encoding = report.encoding {
            body += HTMLPage.card("encoding", "\(Format.decimal(encoding.ringBytesPerEvent, places: 2)) B/event",
                                  "in the ring; \(Format.decimal(encoding.fileBytesPerEvent, places: 2)) B/event in the file")
        }
        body += "</div>"
        for note in notes { body += "<p class=\"hint\" style=\"margin-top:10px\">\(Markup.escape(note))</p>" }
        body += "</section>\n"
        body += HTMLPage.dataQuality(report)
        body += "<section id=\"reasons\"><h2>Exits by reason</h2><p class=\"hint\">Most hypervisor time first. Latency is exit entry to return, in the hypervisor.</p>"
        body += HTMLPage.reasonTable(report.reasons, clock: clock, grouped: false) + "</section>\n"
        body += "<section id=\"histograms\"><h2>Latency histograms</h2><p class=\"hint\">Per exit reason; dashed lines mark p50 (green) and p99 (red). "
            + "log2: exact counts per power of two; linear in log: each power of two in 8 linear steps (HdrHistogram buckets). Hover a bar for its count.</p><div class=\"hists\">"
        for (index, row) in report.reasons.enumerated() {
            body += HTMLPage.histogramCard(id: "hist-\(index)", title: row.reason, stats: HTMLPage.percentiles(row),
                                           views: [("", HistogramSVG(row: row, clockFrequency: clock))])
        }
        if report.reasons.isEmpty { body += "<p>No paired exits.</p>" }
        body += "</div></section>\n"
        if !timelines.isEmpty {
            body += "<section id=\"timeline\" class=\"timeline\"><h2>Timeline</h2><p class=\"hint\">Per physical CPU and time bucket: exits that began "
                + "(bursts are tall bars, stalls gaps), the p99 latency of those exits (log scale), and the share of the bucket spent in the hypervisor. "
                + "Red columns: events lost; purple ticks: guest markers. Hover for figures.</p>"
            for entry in timelines {
                let seconds = entry.timeline.bucketSeconds
                for cpu in entry.timeline.cpus.indices {
                    let title = (timelines.count > 1 ? entry.name + " · " : "") + "cpu\(cpu)"
                    body += "<h3>\(Markup.escape(title)) <span class=\"hint\">(\(entry.timeline.bucketCount) buckets of \(Format.duration(nanoseconds: seconds * 1e9)))</span></h3>"
                    body += TimelineSVG(timeline: entry.timeline, cpu: cpu, start: entry.start).render()
                }
            }
            body += "</section>\n"
        }
        if let flame {
            body += HTMLPage.flameSection(flame, clock: clock, id: "flame", title: "Flame graph",
                                          hint: "Hypervisor time by exit reason (bottom), handler phase and what the exit was about (top); width is time. "
                                              + "Click a frame to zoom, hover for total and self time, search to highlight frames and sum their time.")
        }
        if let grouping = report.grouping {
            body += "<section id=\"groups\"><h2>Exits by reason and \(grouping.rawValue)</h2>"
                + HTMLPage.reasonTable(report.groups, clock: clock, grouped: true) + "</section>\n"
        }
        return HTMLPage.document(title: "hvtrace report: \(source)", heading: "hvtrace report", subtitle: source, body: body)
    }
}

extension ExitReport {
    /// The HTML page of this report alone (no timeline or flame graph: those need the trace;
    /// `HTMLReportPage.make` draws them).
    public func html() -> String {
        HTMLReportPage(report: self, notes: ["Made from a report summary: the timeline and the flame graph need the .hvt trace."]).render()
    }
}

extension Comparison {
    /// The HTML page of this comparison alone (no histograms: `HTMLComparePage.make` adds them).
    public func html() -> String { HTMLComparePage(comparison: self).render() }
}

// `compare --format html`: the verdicts per exit reason, the base and candidate histograms of each
// reason side by side on one axis, and a differential flame graph (growth red, shrink blue).

import Foundation

/// The HTML page of a comparison.
public struct HTMLComparePage {
    public var comparison: Comparison
    /// The two reports (for the histograms); nil when only the comparison is known.
    public var base: ExitReport?
    public var candidate: ExitReport?
    /// The differential flame tree (nil unless both inputs were traces).
    public var flame: FlameNode?
    public var notes: [String]

    public init(comparison: Comparison, base: ExitReport? = nil, candidate: ExitReport? = nil, flame: FlameNode? = nil,
                notes: [String] = []) {
        self.comparison = comparison
        self.base = base
        self.candidate = candidate
        self.flame = flame
        self.notes = notes
    }

    public func render() -> String {
        let c = comparison
        var body = ""
        if c.hasRegression {
            let names = c.reasons.filter { $0.verdict == .regression }.map(\.reason).joined(separator: ", ")
            body += "<div class=\"banner\">Regression: \(Markup.escape(names))</div>\n"
        }
        body += "<section id=\"verdicts\"><h2>Verdict per exit reason</h2><p class=\"hint\">\(Markup.escape(c.summaryLine)). "
            + "A metric counts when it moves by more than its threshold and the change is significant (Mann-Whitney p &lt; \(c.alpha) for p50/mean, "
            + "non-overlapping confidence intervals for p90/p99).</p>"
        body += "<div class=\"scroll\"><table><tr><th>reason</th><th class=\"l\">verdict</th><th>base count</th><th>candidate count</th><th>count Δ</th>"
            + "<th>p50 Δ</th><th>p90 Δ</th><th>p99 Δ</th><th>mean Δ</th><th>MW p</th><th class=\"l\">note</th></tr>"
        for reason in c.reasons {
            body += "<tr><td>\(Markup.escape(reason.reason))</td><td class=\"l\"><span class=\"badge \(reason.verdict.rawValue)\">\(reason.verdict.rawValue)</span></td>"
            body += "<td>\(reason.baseCount)</td><td>\(reason.candidateCount)</td><td>\(reason.deltaCountPct.map { String(format: "%+.1f %%", $0) } ?? "-")</td>"
            for name in ["p50", "p90", "p99", "mean"] {
                if let metric = reason.metrics.first(where: { $0.metric == name }) {
                    let cls = metric.significantIncrease ? " class=\"bad\"" : metric.significantDecrease ? " class=\"ok\"" : ""
                    let percent = metric.deltaPct.map { String(format: " (%+.1f %%)", $0) } ?? ""
                    body += "<td\(cls)>\(metric.deltaNs >= 0 ? "+" : "−")\(Format.duration(nanoseconds: abs(metric.deltaNs)))\(percent)</td>"
                } else {
                    body += "<td>-</td>"
                }
            }
            body += "<td>\(reason.test.map { $0.pValue < 0.0001 ? "&lt;0.0001" : String(format: "%.4f", $0.pValue) } ?? "-")</td>"
            body += "<td class=\"wrap\" style=\"min-width:220px\">\(Markup.escape(reason.note ?? ""))</td></tr>"
        }
        body += "</table></div>"
        for note in notes { body += "<p class=\"hint\" style=\"margin-top:10px\">\(Markup.escape(note))</p>" }
        body += "</section>\n"
        if let base, let candidate {
            body += "<section id=\"histograms\"><h2>Latency histograms, base and candidate</h2><p class=\"hint\">Each reason's two histograms share one "
                + "latency axis; dashed lines mark p50 (green) and p99 (red).</p><div class=\"hists\" style=\"grid-template-columns:1fr\">"
            let baseRows = Dictionary(base.reasons.map { ($0.reason, $0) }, uniquingKeysWith: { a, _ in a })
            let candidateRows = Dictionary(candidate.reasons.map { ($0.reason, $0) }, uniquingKeysWith: { a, _ in a })
            for (index, reason) in c.reasons.enumerated() {
                let rows = [baseRows[reason.reason], candidateRows[reason.reason]]
                let present = rows.compactMap { $0 }
                let slots = HistogramSVG.slotRange(of: present) ?? 0...1
                let empty = { (clock: UInt64) in
                    ReportRow(reason: reason.reason, group: nil, tally: RowTally(), totalExits: 0, totalTicks: 0,
                              nanosecondsPerTick: 1e9 / Double(max(1, clock)))
                }
                var views: [(String, HistogramSVG)] = []
                for (side, row, report) in [("base: \(c.base)", rows[0], base), ("candidate: \(c.candidate)", rows[1], candidate)] {
                    let clock = report.trace.clockFrequencyHz
                    let shown = row ?? empty(clock)
                    var svg = HistogramSVG(row: shown, clockFrequency: clock, slots: slots)
                    svg.width = 560
                    views.append((side + " · " + (row.map(HTMLPage.percentiles) ?? "no exits"), svg))
                }
                body += HTMLPage.histogramCard(id: "hist-\(index)", title: "\(reason.reason) — \(reason.verdict.rawValue)", stats: "", views: views)
            }
            body += "</div></section>\n"
        }
        if let flame {
            body += HTMLPage.flameSection(flame, clock: candidate?.trace.clockFrequencyHz ?? 0, id: "flame", title: "Differential flame graph",
                                          hint: "Widths: the candidate's hypervisor time (the button switches to the base's). Colour: change of each frame's time, "
                                              + "red grew, blue shrank, grey unchanged (full colour at ±50 %). Click to zoom, hover for base, candidate and change, search to highlight.")
        }
        return HTMLPage.document(title: "hvtrace compare: \(c.base) → \(c.candidate)", heading: "hvtrace compare",
                                 subtitle: "base \(c.base) → candidate \(c.candidate)", body: body)
    }

    /// The page for two inputs (traces or summaries), with histograms and, for two traces, the
    /// differential flame graph.
    public static func make(comparison: Comparison, basePath: String, candidatePath: String,
                            warn: (String) -> Void = { _ in }) throws -> String {
        let base = try TraceAnalysis.reportOrSummary(path: basePath, warn: warn)
        let candidate = try TraceAnalysis.reportOrSummary(path: candidatePath, warn: warn)
        var flame: FlameNode?
        var notes: [String] = []
        if try !TraceAnalysis.isSummary(path: basePath), try !TraceAnalysis.isSummary(path: candidatePath) {
            let baseGraph = try TraceAnalysis.flameGraph(path: basePath).builder.graph
            let candidateGraph = try TraceAnalysis.flameGraph(path: candidatePath).builder.graph
            flame = FlameNode.differential(base: baseGraph.tree(), candidate: candidateGraph.tree())
        } else {
            notes.append("No differential flame graph: it needs two .hvt traces (a JSON summary holds no stacks).")
        }
        return HTMLComparePage(comparison: comparison, base: base, candidate: candidate, flame: flame, notes: notes).render()
    }
}

extension HTMLReportPage {
    /// The page for `paths` (traces and/or JSON summaries, merged as `report` merges them): the
    /// traces' flame graphs add up, each trace gets its own timeline.
    public static func make(paths: [String], grouping: ReportGrouping = .reason, warn: (String) -> Void = { _ in }) throws -> String {
        var merger = ReportMerger()
        var reports: [ExitReport] = []
        var flame: FlameGraph?
        var timelines: [(name: String, timeline: Timeline, start: UInt64)] = []
        var summaries: [String] = []
        for path in paths {
            if try TraceAnalysis.isSummary(path: path) {
                let summary = try TraceAnalysis.reportOrSummary(path: path, grouping: grouping, warn: warn)
                reports.append(summary)
                summaries.append(path)
                try merger.add(summary, name: path)
            } else {
                let views = try TraceAnalysis.views(path: path, grouping: grouping, warn: warn)
                reports.append(views.report)
                try merger.add(views.report, name: path)
                flame = flame.map { $0.adding(views.flame) } ?? views.flame
                timelines.append(((path as NSString).lastPathComponent, views.timeline, views.start))
            }
        }
        let report = paths.count == 1 ? reports[0] : try merger.result()
        var notes: [String] = []
        if !summaries.isEmpty {
            notes.append("Made from \(summaries.count == paths.count ? "report summaries" : "summaries (\(summaries.joined(separator: ", ")))") "
                         + "as well: a summary has no timeline and no stacks, so only the traces' are drawn.")
        }
        if paths.count > 1 { notes.append("Merged from \(paths.count) inputs: counts, histograms and counters add; the duration is the sum of the recordings'.") }
        return HTMLReportPage(report: report, flame: flame?.tree(), timelines: timelines, notes: notes).render()
    }
}

extension FlameGraph {
    /// This graph with `other`'s stacks added.
    public func adding(_ other: FlameGraph) -> FlameGraph {
        var sum = self
        for (stack, ticks) in other.stacks { sum.add(stack: stack.split(separator: ";").map(String.init), ticks: ticks) }
        return sum
    }
}

// The parts every hvtrace HTML page shares: the document shell (inline style and script, no
// network), the data-quality block, the per-reason table and the interactive flame graph section.

import Foundation

enum HTMLPage {
    /// A whole document around `body`.
    static func document(title: String, heading: String, subtitle: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="hvtrace">
        <title>\(Markup.escape(title))</title>
        <style>
        \(HTMLAssets.style)</style>
        </head>
        <body>
        <header><h1>\(Markup.escape(heading))</h1><div class="sub">\(Markup.escape(subtitle))</div></header>
        <main>
        \(body)</main>
        <footer>Written by hvtrace. One self-contained file: no network, no external scripts or fonts.</footer>
        <script>
        \(HTMLAssets.script)</script>
        </body>
        </html>

        """
    }

    static func card(_ key: String, _ value: String, _ detail: String = "") -> String {
        "<div class=\"card\"><div class=\"k\">\(Markup.escape(key))</div><div class=\"v\">\(Markup.escape(value))</div>"
            + (detail.isEmpty ? "" : "<div class=\"d\">\(Markup.escape(detail))</div>") + "</div>"
    }

    /// The data-quality block: ok, or every non-zero diagnostic with its severity.
    static func dataQuality(_ report: ExitReport) -> String {
        var html = "<section id=\"quality\"><h2>Data quality</h2>"
        let shown = report.diagnostics.filter { $0.value > 0 }
        if report.problems.isEmpty {
            html += "<p class=\"ok\">OK: no lost events, unmatched exits or decode errors.</p>"
        } else {
            html += "<p class=\"bad\">The trace is incomplete: the statistics count only the exits that were seen whole.</p>"
        }
        if !shown.isEmpty {
            html += "<table><tr><th>diagnostic</th><th class=\"l\">severity</th><th>value</th><th class=\"l\">meaning</th></tr>"
            for entry in shown {
                let cls = entry.severity == .info ? "" : " class=\"bad\""
                html += "<tr><td>\(Markup.escape(entry.name))</td><td class=\"l\"\(cls)>\(entry.severity.rawValue)</td>"
                    + "<td>\(entry.value)</td><td class=\"wrap\">\(Markup.escape(entry.description))</td></tr>"
            }
            html += "</table>"
        }
        return html + "</section>\n"
    }

    /// Count, shares and latency percentiles per row, with a bar of the time share.
    static func reasonTable(_ rows: [ReportRow], clock: UInt64, grouped: Bool) -> String {
        var html = "<div class=\"scroll\"><table><tr><th>reason</th>" + (grouped ? "<th class=\"l\">group</th>" : "")
            + "<th>count</th><th>exits %</th><th class=\"l\">hypervisor time %</th><th>total</th><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>"
        for row in rows {
            let ns = row.nanoseconds
            html += "<tr><td>\(Markup.escape(row.reason))</td>" + (grouped ? "<td class=\"l\">\(Markup.escape(row.group ?? "-"))</td>" : "")
            html += "<td>\(row.count)</td><td>\(Format.percent(row.shareOfExits))</td>"
            html += "<td class=\"l\"><span class=\"bar\" style=\"width:\(Markup.number(max(1, row.shareOfTime * 120)))px\"></span> \(Format.percent(row.shareOfTime))</td>"
            html += "<td>\(Markup.duration(ticks: row.totalTicks, frequency: clock))</td>"
            for value in [ns.min, ns.p50, ns.p90, ns.p99, ns.p999, ns.max, ns.mean] { html += "<td>\(Format.duration(nanoseconds: value))</td>" }
            html += "</tr>"
        }
        return html + "</table></div>"
    }

    /// The interactive flame graph of `tree` (drawn by the page's script from embedded JSON).
    static func flameSection(_ tree: FlameNode, clock: UInt64, id: String, title: String, hint: String) -> String {
        let differential = tree.isDifferential
        var json = "{\"clockHz\":\(max(1, clock)),\"diff\":\(differential),\"root\":"
        func encode(_ node: FlameNode) {
            json += "{\"n\":\(JSONText.string(node.name)),\"v\":\(node.totalTicks),\"s\":\(node.selfTicks)"
            if differential { json += ",\"b\":\(node.baseTotalTicks)" }
            if !node.children.isEmpty {
                json += ",\"c\":["
                for (index, child) in node.children.enumerated() {
                    if index > 0 { json += "," }
                    encode(child)
                }
                json += "]"
            }
            json += "}"
        }
        encode(tree)
        json += "}"
        let safe = json.replacingOccurrences(of: "</", with: "<\\/")
        return """
            <section id="\(id)"><h2>\(Markup.escape(title))</h2><p class="hint">\(Markup.escape(hint))</p>
            <div class="flamebox" data-source="\(id)-data">
            <div class="flamebar"><input type="search" placeholder="search frames (regular expression)" aria-label="search frames">
            <button class="reset" type="button">reset zoom</button>\(differential ? "<button class=\"width\" type=\"button\">widths: candidate</button>" : "")</div>
            <svg class="flame" width="1180" viewBox="0 0 1180 20"></svg>
            <div class="flameinfo"></div>
            </div>
            <script type="application/json" id="\(id)-data">\(safe)</script>
            </section>

            """
    }

    /// A histogram card with the two views and a toggle between them.
    static func histogramCard(id: String, title: String, stats: String, views: [(String, HistogramSVG)]) -> String {
        var html = "<div class=\"hist\" id=\"\(id)\"><div class=\"head\"><h3>\(Markup.escape(title))</h3>"
        html += "<span class=\"toggle\" data-for=\"\(id)\"><button type=\"button\" class=\"on\" data-view=\"log2\">log2</button>"
            + "<button type=\"button\" data-view=\"linear\">linear in log</button></span></div>"
        html += "<div class=\"stats\">\(Markup.escape(stats))</div>"
        let paired = views.count > 1
        if paired { html += "<div class=\"pair\">" }
        for (caption, svg) in views {
            html += "<div>" + (caption.isEmpty ? "" : "<div class=\"side\">\(Markup.escape(caption))</div>")
            html += "<div class=\"view-log2\">\(svg.log2View())</div><div class=\"view-linear\">\(svg.linearView())</div></div>"
        }
        if paired { html += "</div>" }
        return html + "</div>\n"
    }

    static func percentiles(_ row: ReportRow) -> String {
        "\(row.count) exits · p50 \(Format.duration(nanoseconds: row.nanoseconds.p50)) · p99 \(Format.duration(nanoseconds: row.nanoseconds.p99))"
            + " · max \(Format.duration(nanoseconds: row.nanoseconds.max))"
    }
}

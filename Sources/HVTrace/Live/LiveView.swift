// The text of `hvtrace top`: a full screen redrawn every interval (like kvm_stat), or, when
// standard output is not a terminal, plain `key=value` lines per interval that a log keeps.

/// Everything one refresh shows.
public struct LiveFrame: Sendable {
    public var guest: String
    /// Seconds since the recording started, and the interval just closed.
    public var elapsed: Double
    public var interval: Double
    public var grouping: ReportGrouping
    public var sort: LiveSort
    public var rows: [LiveRow]
    public var totalExits: UInt64
    public var intervalExits: UInt64
    /// Events the producer dropped (ring full) and events in lost pages, since the start and in the interval.
    public var lostEvents: UInt64
    public var intervalLostEvents: UInt64
    public var pagesLost: UInt64
    /// Committed pages waiting to be drained, as a share of each CPU's ring (0…1).
    public var ringFill: [Double]
    /// Set on the last frame: why the run ended.
    public var ended: String?

    public init(guest: String, elapsed: Double, interval: Double, grouping: ReportGrouping, sort: LiveSort, rows: [LiveRow],
                totalExits: UInt64, intervalExits: UInt64, lostEvents: UInt64, intervalLostEvents: UInt64, pagesLost: UInt64,
                ringFill: [Double], ended: String? = nil) {
        self.guest = guest
        self.elapsed = elapsed
        self.interval = interval
        self.grouping = grouping
        self.sort = sort
        self.rows = rows
        self.totalExits = totalExits
        self.intervalExits = intervalExits
        self.lostEvents = lostEvents
        self.intervalLostEvents = intervalLostEvents
        self.pagesLost = pagesLost
        self.ringFill = ringFill
        self.ended = ended
    }
}

public enum LiveView {
    /// The screen: at most `height` lines of at most `width` columns, starting with the escape
    /// codes that home the cursor and clear the screen.
    public static func screen(_ frame: LiveFrame, width: Int, height: Int) -> String {
        var lines: [String] = []
        let rate = frame.interval > 0 ? Double(frame.intervalExits) / frame.interval : 0
        lines.append("hvtrace top — \(frame.guest) — \(Format.decimal(frame.elapsed, places: 1)) s — "
                     + "\(Format.rate(rate)) exits/s, \(frame.totalExits) exits in all")
        let fill = frame.ringFill.enumerated().map { "cpu\($0.offset) \(Format.percent($0.element))%" }.joined(separator: "  ")
        let lost = frame.lostEvents > 0 || frame.pagesLost > 0 ? "LOST \(frame.lostEvents) events (\(frame.intervalLostEvents) this interval), \(frame.pagesLost) pages"
            : "lost 0 events"
        lines.append("\(lost) · ring fill \(fill)")
        lines.append("by \(frame.grouping.rawValue) · sorted by \(frame.sort.rawValue) · keys: s sort, b group by, q quit")
        lines.append("")
        let grouped = frame.grouping != .reason
        var table = TextTable(header: (grouped ? ["reason", frame.grouping.rawValue] : ["reason"])
            + [mark("exits/s", .rate, frame.sort), mark("total", .total, frame.sort), "p50", mark("p99", .p99, frame.sort), "max",
               mark("time%", .time, frame.sort)])
        if grouped { table.leftAligned = [0, 1] }
        for row in frame.rows.prefix(max(1, height - 6)) {
            table.rows.append((grouped ? [row.reason, row.group] : [row.reason])
                + [Format.rate(row.exitsPerSecond), String(row.totalExits),
                   row.intervalExits > 0 ? Format.duration(nanoseconds: row.p50Nanoseconds) : "-",
                   row.intervalExits > 0 ? Format.duration(nanoseconds: row.p99Nanoseconds) : "-",
                   row.intervalExits > 0 ? Format.duration(nanoseconds: row.maxNanoseconds) : "-",
                   Format.percent(row.shareOfTime)])
        }
        lines += table.render().split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        if frame.rows.isEmpty { lines.append("(no exits drained yet: a CPU's events arrive when its trace page fills)") }
        if let ended = frame.ended { lines.append(""); lines.append("hvtrace top: \(ended)") }
        let clipped = lines.prefix(height).map { String($0.prefix(width)) }
        // Home, then every line cleared to its end, then the rest of the screen cleared.
        return "\u{1B}[H" + clipped.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\r\n\u{1B}[J"
    }

    static func mark(_ title: String, _ column: LiveSort, _ sort: LiveSort) -> String { column == sort ? title + "*" : title }

    /// Plain lines for a log: one summary line, then one line per group.
    public static func lines(_ frame: LiveFrame) -> String {
        let rate = frame.interval > 0 ? Double(frame.intervalExits) / frame.interval : 0
        let time = "t=" + Format.decimal(frame.elapsed, places: 2) + "s"
        var text = "\(time) exits_per_s=\(Format.integer(rate)) exits=\(frame.totalExits) lost_events=\(frame.lostEvents) "
            + "lost_pages=\(frame.pagesLost) ring_fill=" + frame.ringFill.enumerated().map { "cpu\($0.offset):\(Format.percent($0.element))%" }.joined(separator: ",")
        if let ended = frame.ended { text += " ended=\"\(ended)\"" }
        text += "\n"
        for row in frame.rows where row.intervalExits > 0 || frame.ended != nil {
            text += "\(time) reason=\(row.reason)"
            if frame.grouping != .reason { text += " \(frame.grouping.rawValue)=\(row.group)" }
            text += " exits_per_s=\(Format.integer(row.exitsPerSecond)) total=\(row.totalExits)"
            if row.intervalExits > 0 {
                text += " p50_ns=\(Format.integer(row.p50Nanoseconds)) p99_ns=\(Format.integer(row.p99Nanoseconds)) max_ns=\(Format.integer(row.maxNanoseconds))"
            }
            text += " time_pct=\(Format.percent(row.shareOfTime))\n"
        }
        return text
    }
}

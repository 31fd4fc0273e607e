// A static flame graph as one SVG file (for reports and CI artifacts), drawn the way
// flamegraph.pl and inferno draw theirs: the root at the bottom, each frame as wide as its total
// time, children left to right in name order, warm colours by name. Hovering a frame shows its
// name, total and self time (SVG <title>, no script). A differential graph (candidate against a
// base) is as wide as the candidate and colours each frame by its change: red grew, blue shrank.

/// Renders a `FlameNode` tree as SVG.
public struct FlameSVG {
    public var title: String
    public var subtitle: String
    /// The trace clock, for durations in the tooltips (ticks only when 0).
    public var clockFrequency: UInt64
    public var width = 1200.0
    public var frameHeight = 17.0
    /// Frames narrower than this many pixels are left out (their time stays in their parent).
    public var minimumFrameWidth = 0.1

    public init(title: String, subtitle: String, clockFrequency: UInt64) {
        self.title = title
        self.subtitle = subtitle
        self.clockFrequency = clockFrequency
    }

    /// `ticks` as a duration on a `clock` Hz clock (ticks alone when the clock is unknown).
    public static func describe(_ ticks: UInt64, clock: UInt64) -> String {
        clock > 0 ? Markup.duration(ticks: ticks, frequency: clock) : "\(ticks) ticks"
    }

    func time(_ ticks: UInt64) -> String {
        clockFrequency > 0 ? "\(Markup.duration(ticks: ticks, frequency: clockFrequency)), \(ticks) ticks" : "\(ticks) ticks"
    }

    func tooltip(_ node: FlameNode, rootTotal: UInt64, differential: Bool) -> String {
        let share = rootTotal == 0 ? 0 : Double(node.totalTicks) * 100 / Double(rootTotal)
        var text = "\(node.name)\ntotal \(time(node.totalTicks)) (\(Format.decimal(share, places: 2)) %)\nself \(time(node.selfTicks))"
        if differential {
            let delta = Int64(bitPattern: node.totalTicks &- node.baseTotalTicks)
            let percent = node.baseTotalTicks == 0 ? "new" : String(format: "%+.1f %%", Double(delta) * 100 / Double(node.baseTotalTicks))
            text += "\nbase total \(time(node.baseTotalTicks))\nchange \(delta >= 0 ? "+" : "")\(delta) ticks (\(percent))"
        }
        return text
    }

    /// The SVG document.
    public func render(_ root: FlameNode) -> String {
        let differential = root.isDifferential
        let depth = root.depth
        let top = 58.0, bottom = 26.0, side = 10.0
        let height = top + Double(depth) * frameHeight + bottom
        let usable = width - 2 * side
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Markup.number(width))" height="\(Markup.number(height))" \
            viewBox="0 0 \(Markup.number(width)) \(Markup.number(height))" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11">
            <rect x="0" y="0" width="100%" height="100%" fill="\(differential ? "#f8f8fb" : "#fdf8ee")"/>
            <text x="\(Markup.number(width / 2))" y="22" text-anchor="middle" font-size="16" font-weight="bold">\(Markup.escape(title))</text>
            <text x="\(Markup.number(width / 2))" y="40" text-anchor="middle" fill="#555">\(Markup.escape(subtitle))</text>

            """
        guard root.totalTicks > 0 else {
            return svg + "<text x=\"\(Markup.number(width / 2))\" y=\"\(Markup.number(top + 14))\" text-anchor=\"middle\">no paired exits: nothing to draw</text>\n</svg>\n"
        }
        let scale = usable / Double(root.totalTicks)
        let characterWidth = 11 * 0.59
        func draw(_ node: FlameNode, x: Double, level: Int) {
            let frameWidth = Double(node.totalTicks) * scale
            guard frameWidth >= minimumFrameWidth else { return }
            let y = height - bottom - Double(level + 1) * frameHeight
            let fill = differential ? FlameColors.change(base: node.baseTotalTicks, candidate: node.totalTicks) : FlameColors.warm(node.name)
            svg += "<g><title>\(Markup.escape(tooltip(node, rootTotal: root.totalTicks, differential: differential)))</title>"
            svg += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(y))\" width=\"\(Markup.number(frameWidth))\" "
                + "height=\"\(Markup.number(frameHeight - 1))\" rx=\"2\" fill=\"\(fill)\"/>"
            let fits = Int((frameWidth - 6) / characterWidth)
            if fits >= 3 {
                let label = node.name.count <= fits ? node.name : String(node.name.prefix(fits - 2)) + ".."
                svg += "<text x=\"\(Markup.number(x + 3))\" y=\"\(Markup.number(y + frameHeight - 5))\">\(Markup.escape(label))</text>"
            }
            svg += "</g>\n"
            var childX = x
            for child in node.children {
                draw(child, x: childX, level: level + 1)
                childX += Double(child.totalTicks) * scale
            }
        }
        draw(root, x: side, level: 0)
        let legend = differential
            ? "width: candidate time; colour: change against the base (red grew, blue shrank, ±50 % full colour); hover a frame for figures"
            : "width: share of hypervisor time; from the bottom: all, exit reason, handler phases, what the exit was about; hover for figures"
        svg += "<text x=\"\(Markup.number(side))\" y=\"\(Markup.number(height - 8))\" fill=\"#555\">\(Markup.escape(legend))</text>\n"
        return svg + "</svg>\n"
    }
}

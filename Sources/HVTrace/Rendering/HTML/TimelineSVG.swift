// The timeline of one physical CPU as inline SVG: three strips over the same time axis — exits/s
// per bucket (bars: bursts stand out, stalls are gaps), p99 latency of the exits that began in
// the bucket (log scale), and the share of the bucket spent in the hypervisor — with lost events
// (red) and guest markers (purple) marked. Hovering a bucket shows its figures.

import Foundation

struct TimelineSVG {
    var timeline: Timeline
    var cpu: Int
    /// Time zero of the axis (the trace's first timestamp), ticks.
    var start: UInt64
    var width = 1180.0
    static let stripHeight = 54.0

    func render() -> String {
        let buckets = cpu < timeline.cpus.count ? timeline.cpus[cpu] : []
        let frequency = Double(max(1, timeline.clockFrequency))
        let left = 64.0, right = width - 10, top = 8.0
        let strip = TimelineSVG.stripHeight, gap = 14.0
        let height = top + 3 * strip + 2 * gap + 28
        let count = max(1, timeline.bucketCount)
        let bucketWidth = (right - left) / Double(count)
        let seconds = timeline.bucketSeconds
        let rates = buckets.map { Double($0.exits) / seconds }
        let maxRate = rates.max() ?? 0
        let p99s = buckets.map { Double($0.latencies.value(at: .p99)) * 1e9 / frequency }
        let positive = p99s.filter { $0 > 0 }
        let lowP99 = max(1, positive.min() ?? 1), highP99 = max(lowP99 * 2, positive.max() ?? 2)
        var svg = "<svg viewBox=\"0 0 \(Markup.number(width)) \(Markup.number(height))\" width=\"\(Markup.number(width))\" role=\"img\" aria-label=\"cpu\(cpu) timeline\">"
        let strips: [(String, String, String)] = [
            ("exits/s", Format.rate(maxRate), "0"),
            ("p99 latency", Format.duration(nanoseconds: highP99), Format.duration(nanoseconds: lowP99)),
            ("in hypervisor", "100 %", "0 %"),
        ]
        var titles = ""
        for (index, item) in strips.enumerated() {
            let y = top + Double(index) * (strip + gap)
            svg += "<rect x=\"\(Markup.number(left))\" y=\"\(Markup.number(y))\" width=\"\(Markup.number(right - left))\" height=\"\(Markup.number(strip))\" fill=\"#f7f8fb\" stroke=\"#e3e7ee\"/>"
            svg += "<text class=\"axis\" x=\"\(Markup.number(left - 6))\" y=\"\(Markup.number(y + 9))\" text-anchor=\"end\">\(Markup.escape(item.1))</text>"
            svg += "<text class=\"axis\" x=\"\(Markup.number(left - 6))\" y=\"\(Markup.number(y + strip))\" text-anchor=\"end\">\(Markup.escape(item.2))</text>"
            titles += "<text class=\"axis\" x=\"\(Markup.number(left + 4))\" y=\"\(Markup.number(y + 11))\" font-weight=\"600\" "
                + "stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">\(Markup.escape(item.0))</text>"
        }
        var bars = "", line = "", busy = "", marks = "", hovers = ""
        var points: [String] = []
        for (index, bucket) in buckets.enumerated() {
            let x = left + Double(index) * bucketWidth
            if bucket.exits > 0 && maxRate > 0 {
                let h = max(1, rates[index] / maxRate * strip)
                bars += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(top + strip - h))\" width=\"\(Markup.number(max(0.6, bucketWidth - 0.4)))\" height=\"\(Markup.number(h))\"/>"
            }
            if p99s[index] > 0 {
                let fraction = log(p99s[index] / lowP99) / log(highP99 / lowP99)
                let y = top + strip + gap + strip - fraction * (strip - 4) - 2
                points.append("\(Markup.number(x + bucketWidth / 2)),\(Markup.number(y))")
            } else if !points.isEmpty {
                line += "<polyline points=\"\(points.joined(separator: " "))\"/>"
                points = []
            }
            let share = min(1, Double(bucket.hypervisorTicks) / Double(timeline.bucketTicks))
            if share > 0 {
                let h = share * strip
                busy += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(top + 2 * (strip + gap) + strip - h))\" width=\"\(Markup.number(max(0.6, bucketWidth)))\" height=\"\(Markup.number(h))\"/>"
            }
            if bucket.lostEvents > 0 {
                marks += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(top))\" width=\"\(Markup.number(max(2, bucketWidth)))\" height=\"\(Markup.number(3 * strip + 2 * gap))\" fill=\"#d93025\" opacity=\"0.35\"/>"
            }
            if bucket.markers > 0 {
                marks += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(top + strip - 6))\" width=\"\(Markup.number(max(1.5, bucketWidth)))\" height=\"6\" fill=\"#8e44ad\"/>"
            }
            let from = Double(timeline.origin + UInt64(index) * timeline.bucketTicks) - Double(start)
            var tip = "\(Format.decimal(from / frequency, places: 4))–\(Format.decimal((from + Double(timeline.bucketTicks)) / frequency, places: 4)) s: "
            tip += "\(bucket.exits) exits (\(Format.rate(rates[index]))/s)"
            if bucket.exits > 0 {
                tip += ", p50 \(Format.duration(nanoseconds: Double(bucket.latencies.value(at: .p50)) * 1e9 / frequency))"
                tip += ", p99 \(Format.duration(nanoseconds: p99s[index])), max \(Format.duration(nanoseconds: Double(bucket.latencies.maximum) * 1e9 / frequency))"
            }
            tip += ", \(Format.percent(share)) % in the hypervisor"
            if bucket.lostEvents > 0 { tip += ", \(bucket.lostEvents) EVENTS LOST" }
            if bucket.markers > 0 { tip += ", \(bucket.markers) guest markers" }
            hovers += "<rect x=\"\(Markup.number(x))\" y=\"\(Markup.number(top))\" width=\"\(Markup.number(max(0.6, bucketWidth)))\" height=\"\(Markup.number(3 * strip + 2 * gap))\"><title>\(Markup.escape(tip))</title></rect>"
        }
        if !points.isEmpty { line += points.count == 1 ? "<circle cx=\"\(points[0].split(separator: ",")[0])\" cy=\"\(points[0].split(separator: ",")[1])\" r=\"1.5\" fill=\"#c0392b\"/>" : "<polyline points=\"\(points.joined(separator: " "))\"/>" }
        svg += "<g fill=\"#4f7fe0\">\(bars)</g><g fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.3\">\(line)</g><g fill=\"#8c96a8\">\(busy)</g>\(marks)"
        // Time axis: about eight ticks at 1-2-5 steps.
        let total = Double(count) * seconds
        let offset = (Double(timeline.origin) - Double(start)) / frequency
        let rough = max(total / 8, 1e-9)
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? rough
        let axisY = top + 3 * strip + 2 * gap
        var tick = (offset / step).rounded(.up) * step
        while tick <= offset + total + step * 1e-9 {
            let x = left + (tick - offset) / total * (right - left)
            svg += "<line x1=\"\(Markup.number(x))\" y1=\"\(Markup.number(axisY))\" x2=\"\(Markup.number(x))\" y2=\"\(Markup.number(axisY + 4))\" stroke=\"#9aa3b2\"/>"
            svg += "<text class=\"axis\" x=\"\(Markup.number(x))\" y=\"\(Markup.number(axisY + 15))\" text-anchor=\"middle\">\(Format.seconds(tick))</text>"
            tick += step
        }
        svg += titles + "<g fill=\"transparent\">\(hovers)</g>"
        return svg + "</svg>"
    }
}

extension Format {
    /// A rate with a k/M suffix (`812`, `12.3k`, `4.56M`).
    static func rate(_ value: Double) -> String {
        switch value {
        case ..<1_000: return integer(value)
        case ..<1_000_000: return decimal(value / 1e3, places: 1) + "k"
        default: return decimal(value / 1e6, places: 2) + "M"
        }
    }

    /// Seconds for an axis label, with as few decimals as the value needs (up to 6).
    static func seconds(_ value: Double) -> String {
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0 s" : text + " s"
    }
}

// Latency histograms of one report row as inline SVG, in two views: log2 buckets (exact counts,
// bpftrace's buckets) and linear-in-log (each power of two split into 8 linear steps, from the
// HdrHistogram buckets: the shape inside a bucket), both with p50 and p99 marked. Two rows drawn
// with one `slots` range line up (compare's side-by-side histograms).

import Foundation

struct HistogramSVG {
    var row: ReportRow
    var clockFrequency: UInt64
    /// log2 slots on the x axis (slot k ≥ 1 holds [2^(k−1), 2^k) ns; slot 0 holds 0 ns).
    var slots: ClosedRange<Int>
    var width = 540.0
    var height = 182.0
    static let stepsPerOctave = 8

    init(row: ReportRow, clockFrequency: UInt64, slots: ClosedRange<Int>? = nil) {
        self.row = row
        self.clockFrequency = clockFrequency
        self.slots = slots ?? HistogramSVG.slotRange(of: [row]) ?? 0...1
    }

    static func slot(ofNanoseconds value: Double) -> Int {
        value < 1 ? 0 : min(64, 64 - UInt64(value).leadingZeroBitCount)
    }

    /// The slots the non-empty buckets of `rows` span.
    static func slotRange(of rows: [ReportRow]) -> ClosedRange<Int>? {
        let slots = rows.flatMap { $0.log2Histogram.filter { $0.count > 0 }.map { slot(ofNanoseconds: Double($0.lowNs)) } }
        guard let low = slots.min(), let high = slots.max() else { return nil }
        return low...max(high, low + 1)
    }

    var plotLeft: Double { 48 }
    var plotRight: Double { width - 12 }
    var plotTop: Double { 36 }
    var plotBottom: Double { height - 34 }
    var slotWidth: Double { (plotRight - plotLeft) / Double(slots.count) }

    /// The x position of `nanoseconds` (log2 inside its slot).
    func x(ofNanoseconds value: Double) -> Double {
        let slot = HistogramSVG.slot(ofNanoseconds: value)
        let index = Double(slot - slots.lowerBound)
        let fraction: Double
        if slot == 0 { fraction = 0.5 } else {
            let low = pow(2, Double(slot - 1))
            fraction = min(0.999, max(0, log2(value / low)))
        }
        return plotLeft + (index + fraction) * slotWidth
    }

    /// Linear position inside the slot instead (the linear-in-log view).
    func xLinear(ofNanoseconds value: Double) -> Double {
        let slot = HistogramSVG.slot(ofNanoseconds: value)
        let index = Double(slot - slots.lowerBound)
        let fraction = slot == 0 ? 0.5 : min(0.999, max(0, value / pow(2, Double(slot - 1)) - 1))
        return plotLeft + (index + fraction) * slotWidth
    }

    func label(_ slot: Int) -> String {
        slot == 0 ? "0" : Format.power(UInt64(1) << UInt64(slot - 1))
    }

    /// Axes, slot labels and the percentile marks around `bars`.
    func frame(bars: String, largest: UInt64, linear: Bool, caption: String) -> String {
        var svg = "<svg viewBox=\"0 0 \(Markup.number(width)) \(Markup.number(height))\" width=\"\(Markup.number(width))\" role=\"img\" aria-label=\"\(Markup.escape(row.reason)) latency histogram\">"
        svg += "<line x1=\"\(Markup.number(plotLeft))\" y1=\"\(Markup.number(plotBottom))\" x2=\"\(Markup.number(plotRight))\" y2=\"\(Markup.number(plotBottom))\" stroke=\"#9aa3b2\"/>"
        svg += "<text class=\"axis\" x=\"\(Markup.number(plotLeft - 6))\" y=\"\(Markup.number(plotTop + 4))\" text-anchor=\"end\">\(largest)</text>"
        svg += "<text class=\"axis\" x=\"\(Markup.number(plotLeft - 6))\" y=\"\(Markup.number(plotBottom))\" text-anchor=\"end\">0</text>"
        let every = max(1, Int((Double(slots.count) * 34 / (plotRight - plotLeft)).rounded(.up)))
        for (index, slot) in slots.enumerated() where index % every == 0 {
            let x = plotLeft + Double(index) * slotWidth
            svg += "<line x1=\"\(Markup.number(x))\" y1=\"\(Markup.number(plotBottom))\" x2=\"\(Markup.number(x))\" y2=\"\(Markup.number(plotBottom + 4))\" stroke=\"#9aa3b2\"/>"
            svg += "<text class=\"axis\" x=\"\(Markup.number(x))\" y=\"\(Markup.number(plotBottom + 15))\" text-anchor=\"middle\">\(label(slot))</text>"
        }
        svg += "<text class=\"axis\" x=\"\(Markup.number((plotLeft + plotRight) / 2))\" y=\"\(Markup.number(height - 4))\" text-anchor=\"middle\">\(Markup.escape(caption))</text>"
        svg += bars
        let marks: [(String, Double, String)] = [("50", row.nanoseconds.p50, "p50"), ("99", row.nanoseconds.p99, "p99")]
        // p99's label on the upper line, p50's on the lower one: they never overlap.
        for (index, mark) in marks.enumerated() where row.count > 0 {
            let x = linear ? xLinear(ofNanoseconds: mark.1) : self.x(ofNanoseconds: mark.1)
            let y = index == 0 ? plotTop - 7 : plotTop - 19
            svg += "<line class=\"mark\(mark.0)\" x1=\"\(Markup.number(x))\" y1=\"\(Markup.number(y - 8))\" x2=\"\(Markup.number(x))\" y2=\"\(Markup.number(plotBottom))\"/>"
            let text = "\(mark.2) \(Format.duration(nanoseconds: mark.1))"
            let anchor = x > plotRight - 100 ? "end" : "start"
            svg += "<text class=\"label\(mark.0)\" x=\"\(Markup.number(anchor == "end" ? x - 3 : x + 3))\" y=\"\(Markup.number(y))\" text-anchor=\"\(anchor)\">\(Markup.escape(text))</text>"
        }
        return svg + "</svg>"
    }

    /// The log2 view: one bar per power-of-two bucket, exact counts.
    func log2View() -> String {
        var counts: [Int: UInt64] = [:]
        for bucket in row.log2Histogram { counts[HistogramSVG.slot(ofNanoseconds: Double(bucket.lowNs)), default: 0] += bucket.count }
        let largest = counts.values.max() ?? 0
        var bars = ""
        for (index, slot) in slots.enumerated() {
            let count = counts[slot] ?? 0
            guard count > 0, largest > 0 else { continue }
            let barHeight = max(1, Double(count) / Double(largest) * (plotBottom - plotTop))
            let x = plotLeft + Double(index) * slotWidth
            let range = slot == 0 ? "0 ns" : "[\(label(slot)), \(slot == 64 ? "inf" : label(slot + 1))) ns"
            bars += "<rect x=\"\(Markup.number(x + 1))\" y=\"\(Markup.number(plotBottom - barHeight))\" width=\"\(Markup.number(max(1, slotWidth - 2)))\" height=\"\(Markup.number(barHeight))\" fill=\"#5b8def\"><title>\(range): \(count) exits (\(Format.percent(Double(count) / Double(max(1, row.count)))) %)</title></rect>"
        }
        return frame(bars: bars, largest: largest, linear: false, caption: "latency, ns (log2 buckets: [2^k, 2^(k+1)))")
    }

    /// The linear-in-log view: 8 linear steps per power of two, from the HdrHistogram buckets.
    func linearView() -> String {
        let scale = 1e9 / Double(max(1, clockFrequency))
        var counts: [Int: UInt64] = [:]
        var samples = row.histogram.buckets.map { (Double($0.value) * scale, $0.count) }
        if row.histogram.overflowCount > 0 { samples.append((Double(row.histogram.max) * scale, row.histogram.overflowCount)) }
        for (nanoseconds, count) in samples {
            let slot = min(max(HistogramSVG.slot(ofNanoseconds: nanoseconds), slots.lowerBound), slots.upperBound)
            let step = slot == 0 ? 0 : min(Self.stepsPerOctave - 1, max(0, Int((nanoseconds / pow(2, Double(slot - 1)) - 1) * Double(Self.stepsPerOctave))))
            counts[slot * Self.stepsPerOctave + step, default: 0] += count
        }
        let largest = counts.values.max() ?? 0
        let stepWidth = slotWidth / Double(Self.stepsPerOctave)
        var bars = ""
        for (key, count) in counts.sorted(by: { $0.key < $1.key }) where largest > 0 {
            let slot = key / Self.stepsPerOctave, step = key % Self.stepsPerOctave
            let barHeight = max(1, Double(count) / Double(largest) * (plotBottom - plotTop))
            let x = plotLeft + Double(slot - slots.lowerBound) * slotWidth + Double(step) * stepWidth
            let low = slot == 0 ? 0 : pow(2, Double(slot - 1)) * (1 + Double(step) / Double(Self.stepsPerOctave))
            let high = slot == 0 ? 1 : pow(2, Double(slot - 1)) * (1 + Double(step + 1) / Double(Self.stepsPerOctave))
            bars += "<rect x=\"\(Markup.number(x + 0.3))\" y=\"\(Markup.number(plotBottom - barHeight))\" width=\"\(Markup.number(max(0.8, stepWidth - 0.6)))\" height=\"\(Markup.number(barHeight))\" fill=\"#e08a2c\"><title>[\(Format.duration(nanoseconds: low)), \(Format.duration(nanoseconds: high))): \(count) exits</title></rect>"
        }
        return frame(bars: bars, largest: largest, linear: true, caption: "latency, ns (each power of two in 8 linear steps)")
    }
}

// Small helpers shared by the SVG and HTML renderings: escaping, number formatting, colours.

import Foundation

enum Markup {
    /// `text` safe inside XML/HTML text and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A coordinate with at most two decimals.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(format: "%.2f", rounded)
    }

    /// A duration of `ticks` on a `frequency` Hz clock, readable (`812 ns`, `4.56 ms`).
    static func duration(ticks: UInt64, frequency: UInt64) -> String {
        Format.duration(nanoseconds: Double(ticks) * 1e9 / Double(max(1, frequency)))
    }
}

/// Frame colours: flamegraph.pl's warm palette, chosen by a hash of the name so a frame keeps
/// its colour in every graph; a differential graph colours by growth (red) and shrink (blue).
enum FlameColors {
    static func hash(_ name: String) -> (Double, Double, Double) {
        var h: UInt64 = 0xcbf29ce484222325
        for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x100000001b3 }
        func part(_ shift: UInt64) -> Double { Double((h >> shift) & 0xFFFF) / 65_535 }
        return (part(0), part(16), part(32))
    }

    /// `rgb(…)` for a normal frame.
    static func warm(_ name: String) -> String {
        let (a, b, c) = hash(name)
        return "rgb(\(205 + Int(50 * a)),\(Int(80 + 150 * b)),\(Int(55 * c)))"
    }

    /// `rgb(…)` for a differential frame: change relative to the larger of its two totals, −1…1.
    static func change(base: UInt64, candidate: UInt64) -> String {
        let larger = Double(max(base, candidate))
        guard larger > 0 else { return "rgb(210,210,210)" }
        let ratio = (Double(candidate) - Double(base)) / larger
        let strength = min(1, abs(ratio) * 2)  // ±50 % is full colour
        let fade = Int(210 - 170 * strength)
        let strong = Int(210 + 30 * strength)
        return ratio >= 0 ? "rgb(\(strong),\(fade),\(fade))" : "rgb(\(fade),\(fade),\(strong))"
    }
}

// Terminal views of a flame graph: an indented tree with bars (widest first) and a differential
// table of which stacks grew or shrank between two traces.

import Foundation

extension FlameGraph {
    /// Self plus descendants' time of every node (children always have larger ids than parents).
    /// Saturating, so a node's total is never below a child's.
    func totalTicksPerNode() -> [UInt64] {
        var totals = selfTicks
        for node in stride(from: totals.count - 1, to: 0, by: -1) { totals[Int(nodeParent[node])].addSaturating(totals[node]) }
        return totals
    }

    /// An indented tree: total%, self%, a bar of total%, the frame. Nodes under `minPercent` of the
    /// total are pruned (their time still counts in their parent's total).
    public func tree(minPercent: Double = 0, barWidth: Int = 30) -> String {
        let totals = totalTicksPerNode()
        let all = totals[0]
        var childrenOf: [[Int]] = Array(repeating: [], count: totals.count)
        for node in 1..<max(1, totals.count) { childrenOf[Int(nodeParent[node])].append(node) }
        var text = " total%   self%  " + String(repeating: " ", count: barWidth) + "  frame\n"
        guard all > 0 else { return text + "(no paired exits)\n" }
        func percent(_ ticks: UInt64) -> Double { Double(ticks) * 100 / Double(all) }
        func visit(_ node: Int, depth: Int) {
            let total = percent(totals[node])
            guard total >= minPercent else { return }
            // Totals saturate, so a share never exceeds 100 %; clamp anyway: a bar is never wider than its column.
            let filled = min(barWidth, max(0, Int((min(total, 100) / 100 * Double(barWidth)).rounded())))
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: barWidth - filled)
            text += String(format: "%6.1f%%  %6.1f%%  ", total, percent(selfTicks[node])) + bar + "  "
                + String(repeating: "  ", count: depth) + labels[Int(nodeLabel[node])] + "\n"
            let ordered = childrenOf[node].sorted {
                totals[$0] != totals[$1] ? totals[$0] > totals[$1] : labels[Int(nodeLabel[$0])] < labels[Int(nodeLabel[$1])]
            }
            for child in ordered { visit(child, depth: depth + 1) }
        }
        let roots = childrenOf[0].sorted {
            totals[$0] != totals[$1] ? totals[$0] > totals[$1] : labels[Int(nodeLabel[$0])] < labels[Int(nodeLabel[$1])]
        }
        for root in roots { visit(root, depth: 0) }
        return text
    }
}

/// One stack's change between two flame graphs.
public struct FlameDelta: Equatable, Sendable {
    public var stack: String
    public var baseTicks: UInt64
    public var candidateTicks: UInt64
    /// Share of each graph's total, 0…1.
    public var baseShare: Double
    public var candidateShare: Double

    /// candidate − base, clamped to Int64 (totals of corrupt traces can be near 2^64).
    public var deltaTicks: Int64 {
        candidateTicks >= baseTicks ? Int64(clamping: candidateTicks - baseTicks) : -Int64(clamping: baseTicks - candidateTicks)
    }
    /// Relative change of the ticks, nil for a stack absent from the base.
    public var deltaPercent: Double? { baseTicks == 0 ? nil : Double(deltaTicks) * 100 / Double(baseTicks) }
}

/// Compares two flame graphs stack by stack.
public struct FlameDiff: Sendable {
    public var deltas: [FlameDelta]
    public var baseTotal: UInt64
    public var candidateTotal: UInt64

    public init(base: FlameGraph, candidate: FlameGraph) {
        let baseStacks = base.stacks, candidateStacks = candidate.stacks
        baseTotal = base.totalTicks
        candidateTotal = candidate.totalTicks
        let (bt, ct) = (baseTotal, candidateTotal)
        deltas = Set(baseStacks.keys).union(candidateStacks.keys).map { stack in
            let b = baseStacks[stack] ?? 0, c = candidateStacks[stack] ?? 0
            return FlameDelta(stack: stack, baseTicks: b, candidateTicks: c,
                              baseShare: bt == 0 ? 0 : Double(b) / Double(bt),
                              candidateShare: ct == 0 ? 0 : Double(c) / Double(ct))
        }
        // Largest absolute change first; ties by name for a stable order.
        deltas.sort {
            let (a, b) = ($0.deltaTicks.magnitude, $1.deltaTicks.magnitude)
            return a != b ? a > b : $0.stack < $1.stack
        }
    }

    /// Brendan Gregg's difffolded input: `stack baseTicks candidateTicks`, sorted by stack.
    public func folded() -> String {
        deltas.sorted { $0.stack < $1.stack }.map { "\($0.stack) \($0.baseTicks) \($0.candidateTicks)\n" }.joined()
    }

    /// A table of grown and shrunk stacks; rows where both shares are under `minPercent` are left out.
    public func text(minPercent: Double = 0) -> String {
        var table = TextTable(header: ["change", "Δticks", "Δ%", "base%", "cand%", "stack"])
        for delta in deltas where max(delta.baseShare, delta.candidateShare) * 100 >= minPercent {
            let change = delta.baseTicks == 0 ? "new" : delta.candidateTicks == 0 ? "gone"
                : delta.deltaTicks > 0 ? "grew" : delta.deltaTicks < 0 ? "shrank" : "same"
            table.rows.append([change, (delta.deltaTicks > 0 ? "+" : "") + String(delta.deltaTicks),
                               delta.deltaPercent.map { String(format: "%+.1f", $0) } ?? "-",
                               Format.percent(delta.baseShare), Format.percent(delta.candidateShare), delta.stack])
        }
        var text = "base total \(baseTotal) ticks, candidate total \(candidateTotal) ticks ("
        text += baseTotal == 0 ? "-" : String(format: "%+.1f%%", (Double(candidateTotal) - Double(baseTotal)) * 100 / Double(baseTotal))
        text += ")\n"
        table.leftAligned = [0, 5]
        text += table.render()
        return text
    }
}

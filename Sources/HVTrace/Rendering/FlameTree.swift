// A flame graph as a tree for drawing: each frame's self and total time, children in name order
// (as flamegraph.pl and inferno order them, so two graphs line up), and for a differential graph
// the base trace's times beside the candidate's.

/// One frame of a flame graph (the root is the synthetic "all" frame).
public struct FlameNode: Equatable, Sendable {
    public var name: String
    /// Time of the frame itself and of it with everything above it, ticks (the candidate's in a diff).
    public var selfTicks: UInt64
    public var totalTicks: UInt64
    /// The base trace's times for the same stack (0 when absent; only in a differential tree).
    public var baseSelfTicks: UInt64 = 0
    public var baseTotalTicks: UInt64 = 0
    public var children: [FlameNode] = []

    public var depth: Int { 1 + (children.map(\.depth).max() ?? 0) }
    public var frameCount: Int { 1 + children.reduce(0) { $0 + $1.frameCount } }
}

extension FlameGraph {
    /// The graph as a tree under a root called `rootName`.
    public func tree(rootName: String = "all") -> FlameNode {
        let totals = totalTicksPerNode()
        var childrenOf: [[Int]] = Array(repeating: [], count: totals.count)
        for node in 1..<max(1, totals.count) { childrenOf[Int(nodeParent[node])].append(node) }
        func build(_ node: Int) -> FlameNode {
            let name = node == 0 ? rootName : labels[Int(nodeLabel[node])]
            var result = FlameNode(name: name, selfTicks: selfTicks[node], totalTicks: totals[node])
            result.children = childrenOf[node].map(build).filter { $0.totalTicks > 0 }.sorted { $0.name < $1.name }
            return result
        }
        return build(0)
    }
}

extension FlameNode {
    /// The candidate's tree with the base's times beside it; stacks only in the base appear with
    /// candidate time 0 (drawn zero-wide when widths follow the candidate).
    public static func differential(base: FlameNode, candidate: FlameNode) -> FlameNode {
        var node = FlameNode(name: candidate.name, selfTicks: candidate.selfTicks, totalTicks: candidate.totalTicks,
                             baseSelfTicks: base.selfTicks, baseTotalTicks: base.totalTicks)
        let baseChildren = Dictionary(base.children.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let candidateChildren = Dictionary(candidate.children.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let empty = { (name: String) in FlameNode(name: name, selfTicks: 0, totalTicks: 0) }
        node.children = Set(baseChildren.keys).union(candidateChildren.keys).sorted().map { name in
            differential(base: baseChildren[name] ?? empty(name), candidate: candidateChildren[name] ?? empty(name))
        }
        return node
    }

    /// True when the tree carries base times (made by `differential`).
    public var isDifferential: Bool { baseTotalTicks > 0 || children.contains { $0.isDifferential } }
}

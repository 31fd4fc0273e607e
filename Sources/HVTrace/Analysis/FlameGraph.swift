// Hypervisor time attributed to stacks: the exit reason is the root frame, span enter/leave pairs
// nest handler phases below it, and a detail event (MMIO device, INTID, hypercall function, system
// register) seen inside a phase becomes a leaf frame under that phase for the phase's self time:
// `DABT_LOW;stage2_fault;mmio;pl011`.
//
// Time is attributed at every transition (entry, span enter, span leave, return) to the frame that
// was on top, so the self times of one exit telescope to exactly return − entry, and the folded
// stacks of a trace sum exactly to its total paired hypervisor time. An exit that never pairs
// contributes nothing (its pending segments are dropped and counted by the pairer).

/// A trie of frames with self time per node.
public struct FlameGraph: Equatable, Sendable {
    /// Frame names; node `i` has label `labels[nodeLabel[i]]`. Node 0 is the invisible root.
    public private(set) var labels: [String] = []
    var labelIDs: [String: Int32] = [:]
    var nodeParent: [Int32] = [-1]
    var nodeLabel: [Int32] = [-1]
    /// Time attributed to each node itself (not to its children), in ticks.
    public private(set) var selfTicks: [UInt64] = [0]
    var children: [ChildKey: Int32] = [:]

    struct ChildKey: Hashable {
        var parent: Int32
        var label: Int32
    }

    public init() {}

    /// The id of `name`, interned.
    mutating func label(_ name: String) -> Int32 {
        if let id = labelIDs[name] { return id }
        let id = Int32(labels.count)
        labels.append(name)
        labelIDs[name] = id
        return id
    }

    /// The child of `parent` with `label`, created when missing.
    @inline(__always)
    mutating func child(of parent: Int32, label: Int32) -> Int32 {
        let key = ChildKey(parent: parent, label: label)
        if let node = children[key] { return node }
        let node = Int32(nodeParent.count)
        nodeParent.append(parent)
        nodeLabel.append(label)
        selfTicks.append(0)
        children[key] = node
        return node
    }

    /// Adds `ticks` of self time to the stack `frames` (root first), creating nodes as needed.
    public mutating func add(stack frames: [String], ticks: UInt64) {
        var node: Int32 = 0
        for frame in frames { node = child(of: node, label: label(frame)) }
        selfTicks[Int(node)].addSaturating(ticks)
    }

    mutating func addSelf(node: Int32, ticks: UInt64) { selfTicks[Int(node)].addSaturating(ticks) }

    /// The frames from the root to `node`.
    public func frames(of node: Int32) -> [String] {
        var frames: [String] = []
        var current = node
        while current > 0 {
            frames.append(labels[Int(nodeLabel[Int(current)])])
            current = nodeParent[Int(current)]
        }
        return frames.reversed()
    }

    /// Sum of every node's self time (saturating: see `isSaturated`).
    public var totalTicks: UInt64 { selfTicks.saturatingSum() }

    /// Some total reached 2^64 − 1 ticks and stopped there (exits of impossible length: a corrupt
    /// timestamp). Totals and shares are then lower bounds.
    public var isSaturated: Bool { totalTicksPerNode().first == .max }

    /// Every stack with self time, as `frames → ticks`.
    public var stacks: [String: UInt64] {
        var result: [String: UInt64] = [:]
        for node in selfTicks.indices where node > 0 && selfTicks[node] > 0 {
            result[frames(of: Int32(node)).joined(separator: ";"), default: 0].addSaturating(selfTicks[node])
        }
        return result
    }

    /// Brendan Gregg's folded format: one `a;b;c ticks` line per stack, sorted by stack.
    public func folded() -> String {
        stacks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
    }

    /// Reads folded stacks (`a;b;c 123` lines; blank lines and `#` comments ignored).
    public static func parseFolded(_ text: String, source: String) throws(AnalysisInputError) -> FlameGraph {
        var graph = FlameGraph()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let space = trimmed.lastIndex(of: " "), let ticks = UInt64(trimmed[trimmed.index(after: space)...]) else {
                throw .malformedFoldedLine(file: source, line: index + 1)
            }
            graph.add(stack: trimmed[..<space].split(separator: ";").map(String.init), ticks: ticks)
        }
        return graph
    }
}

import Foundation

/// Span bookkeeping problems the flame builder met (the pairer counts unmatched exits).
public struct FlameDiagnostics: Equatable, Sendable {
    /// A span leave whose phase was not the innermost open span.
    public var mismatchedSpanLeaves: UInt64 = 0
    /// Spans still open when their exit returned (closed at the return).
    public var spansOpenAtReturn: UInt64 = 0
    /// Span enters nested deeper than `FlameBuilder.maximumSpanDepth`; their time stays with the
    /// deepest frame kept (a real handler nests a few levels; only a corrupt trace gets here).
    public var spansTooDeep: UInt64 = 0
}

/// An `ExitSink` that builds a `FlameGraph` from per-CPU span nesting.
public struct FlameBuilder: ExitSink {
    /// One open frame of a CPU's current exit.
    struct Frame {
        var node: Int32
        var phase: UInt8
        /// The leaf detail frame under `node`, or −1.
        var detailNode: Int32
    }

    /// The current exit of one CPU: its frames and the time attributed so far (committed at return).
    struct CPUStacks {
        var frames: [Frame] = []
        var pending: [(node: Int32, ticks: UInt64)] = []
        var lastTransition: UInt64 = 0
        /// Span enters ignored because the stack was full; their leaves are ignored too.
        var spansBeyondDepth = 0
    }

    /// The deepest span nesting kept per exit. Bounds the graph's depth, so rendering (recursive)
    /// and stack naming (depth × nodes) stay cheap on hostile input.
    public static let maximumSpanDepth = 64

    public private(set) var graph = FlameGraph()
    public private(set) var diagnostics = FlameDiagnostics()
    /// Total latency of the exits committed (equals `graph.totalTicks`).
    public private(set) var pairedTicks: UInt64 = 0
    var cpus: [CPUStacks] = []
    var reasonLabels: [Int32]
    var phaseLabels: [Int32]

    public init() {
        reasonLabels = Array(repeating: -1, count: ExitReason.slotCount)
        phaseLabels = Array(repeating: -1, count: 256)
    }

    @inline(__always)
    mutating func ensure(cpu: Int) {
        if _slowPath(cpu >= cpus.count) { cpus += Array(repeating: CPUStacks(), count: cpu + 1 - cpus.count) }
    }

    mutating func rootNode(_ reason: ExitReason) -> Int32 {
        let index = Int(reason.rawValue)
        if reasonLabels[index] < 0 { reasonLabels[index] = graph.label(reason.name) }
        return graph.child(of: 0, label: reasonLabels[index])
    }

    /// Attributes the time since the last transition on `cpu` to its top frame (or its detail leaf).
    @inline(__always)
    mutating func attribute(cpu: Int, until timestamp: UInt64) {
        let ticks = timestamp - cpus[cpu].lastTransition
        cpus[cpu].lastTransition = timestamp
        guard ticks > 0, let top = cpus[cpu].frames.last else { return }
        let node = top.detailNode >= 0 ? top.detailNode : top.node
        if let last = cpus[cpu].pending.last, last.node == node {
            cpus[cpu].pending[cpus[cpu].pending.count - 1].ticks.addSaturating(ticks)
        } else {
            cpus[cpu].pending.append((node, ticks))
        }
    }

    public mutating func exitBegan(cpu: Int, reason: ExitReason, timestamp: UInt64) {
        ensure(cpu: cpu)
        let root = rootNode(reason)
        cpus[cpu].frames.removeAll(keepingCapacity: true)
        cpus[cpu].frames.append(Frame(node: root, phase: 0, detailNode: -1))
        cpus[cpu].pending.removeAll(keepingCapacity: true)
        cpus[cpu].lastTransition = timestamp
        cpus[cpu].spansBeyondDepth = 0
    }

    public mutating func exitReasonRefined(cpu: Int, reason: ExitReason) {
        // Rare (ISS.TI disagreed with the wfx event): move this exit's frames under the new root.
        let root = rootNode(reason)
        func moved(_ node: Int32) -> Int32 {
            guard node >= 0 else { return node }
            var target = root
            for frame in graph.frames(of: node).dropFirst() { target = graph.child(of: target, label: graph.label(frame)) }
            return target
        }
        for index in cpus[cpu].frames.indices {
            cpus[cpu].frames[index].node = moved(cpus[cpu].frames[index].node)
            cpus[cpu].frames[index].detailNode = moved(cpus[cpu].frames[index].detailNode)
        }
        for index in cpus[cpu].pending.indices { cpus[cpu].pending[index].node = moved(cpus[cpu].pending[index].node) }
    }

    public mutating func phaseEntered(cpu: Int, phase: UInt8, timestamp: UInt64) {
        attribute(cpu: cpu, until: timestamp)
        if _slowPath(cpus[cpu].frames.count > Self.maximumSpanDepth) {
            cpus[cpu].spansBeyondDepth += 1
            diagnostics.spansTooDeep += 1
            return
        }
        if phaseLabels[Int(phase)] < 0 {
            let name = HandlerPhase(rawValue: phase).map { $0.name.description } ?? "phase_\(phase)"
            phaseLabels[Int(phase)] = graph.label(name)
        }
        let parent = cpus[cpu].frames[cpus[cpu].frames.count - 1].node
        cpus[cpu].frames.append(Frame(node: graph.child(of: parent, label: phaseLabels[Int(phase)]), phase: phase, detailNode: -1))
    }

    public mutating func phaseLeft(cpu: Int, phase: UInt8, timestamp: UInt64) {
        attribute(cpu: cpu, until: timestamp)
        if _slowPath(cpus[cpu].spansBeyondDepth > 0) {
            cpus[cpu].spansBeyondDepth -= 1
            return
        }
        let frames = cpus[cpu].frames
        if frames.count > 1 && frames[frames.count - 1].phase == phase {
            cpus[cpu].frames.removeLast()
            return
        }
        diagnostics.mismatchedSpanLeaves += 1
        // Close up to the matching span if one is open; otherwise ignore the stray leave.
        if let index = frames.indices.dropFirst().last(where: { frames[$0].phase == phase }) {
            cpus[cpu].frames.removeSubrange(index...)
        }
    }

    public mutating func detailSeen(cpu: Int, kind: ExitDetailKind, value: UInt32) {
        let top = cpus[cpu].frames.count - 1
        guard cpus[cpu].frames[top].detailNode < 0 else { return }
        let name: String
        switch kind {
        case .hypercall: name = HypercallNames.name(value)
        case .device:
            let device = UInt8(truncatingIfNeeded: value)
            name = MMIODevice(rawValue: device).map { $0.name.description } ?? "device_\(device)"
            // A device with a register table: `…;mmio;virtio-blk;QueueNotify`.
            if let register = DeviceRegisterNames.name(device: device, offset: UInt64(value >> 8)) {
                let deviceNode = graph.child(of: cpus[cpu].frames[top].node, label: graph.label(name))
                cpus[cpu].frames[top].detailNode = graph.child(of: deviceNode, label: graph.label(register))
                return
            }
        case .interrupt: name = InterruptNames.name(UInt16(truncatingIfNeeded: value))
        case .sysreg: name = SysregNames.name(UInt16(truncatingIfNeeded: value))
        }
        cpus[cpu].frames[top].detailNode = graph.child(of: cpus[cpu].frames[top].node, label: graph.label(name))
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let cpu = Int(exit.cpu)
        attribute(cpu: cpu, until: returnTimestamp)
        if cpus[cpu].frames.count > 1 { diagnostics.spansOpenAtReturn += UInt64(cpus[cpu].frames.count - 1) }
        for segment in cpus[cpu].pending { graph.addSelf(node: segment.node, ticks: segment.ticks) }
        cpus[cpu].pending.removeAll(keepingCapacity: true)
        cpus[cpu].frames.removeAll(keepingCapacity: true)
        cpus[cpu].spansBeyondDepth = 0
        pairedTicks.addSaturating(exit.latency)
    }

    public mutating func exitAbandoned(cpu: Int) {
        cpus[cpu].pending.removeAll(keepingCapacity: true)
        cpus[cpu].frames.removeAll(keepingCapacity: true)
        cpus[cpu].spansBeyondDepth = 0
    }
}

/// Errors reading analysis inputs other than traces (folded files, JSON summaries, thresholds).
public enum AnalysisInputError: Error, Equatable, CustomStringConvertible {
    /// A folded-stack line is not `frames count`.
    case malformedFoldedLine(file: String, line: Int)
    /// A JSON file is not a report summary this version reads.
    case notAReport(file: String, reason: String)
    /// A summary from a newer schema.
    case unsupportedSchema(file: String, version: Int)
    /// A thresholds file could not be read.
    case badThresholds(file: String, reason: String)
    /// The file could not be read at all.
    case unreadable(file: String, reason: String)
    /// An output file could not be written (nothing is left at its path).
    case unwritable(file: String, reason: String)
    /// A file given where a trace or a JSON summary was expected is neither.
    case neitherTraceNorSummary(file: String, firstBytes: [UInt8])
    /// A summary made with another `--by` than the one asked for.
    case groupingDiffers(file: String, has: String, asked: String)

    public var description: String {
        switch self {
        case let .malformedFoldedLine(file, line):
            return "\(file):\(line): not a folded-stack line ('frame;frame;… count')"
        case let .notAReport(file, reason):
            return "\(file): not a 'hvtrace report --format json' summary (\(reason))"
        case let .unsupportedSchema(file, version):
            return "\(file): report schemaVersion \(version) is newer than this hvtrace reads (\(ExitReport.currentSchemaVersion)); update hvtrace"
        case let .badThresholds(file, reason):
            return "\(file): bad thresholds file (\(reason)); see 'hvtrace compare --help'"
        case let .unreadable(file, reason):
            return "\(file): cannot read (\(reason))"
        case let .unwritable(file, reason):
            return "\(file): cannot write (\(reason)); no output was written"
        case let .neitherTraceNorSummary(file, firstBytes):
            let hex = firstBytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            return "\(file): neither an .hvt trace (starts with zstd's 28 b5 2f fd) nor a 'report --format json' summary (starts with '{'): byte 0 holds \(hex)"
        case let .groupingDiffers(file, has, asked):
            return "\(file): a summary grouped by '\(has)', not by '\(asked)'; make it with 'report --by \(asked) --format json' or drop --by"
        }
    }
}

/// Runs the flame analysis over in-memory events (tests; the file path uses the same builder).
public func makeFlameGraph<Events: Sequence<TimedEvent>>(events: Events, cpuCount: Int = 1) -> (FlameBuilder, PairingDiagnostics) {
    var pairer = ExitPairer(sink: FlameBuilder(), cpuCount: cpuCount)
    pairer.consume(events)
    pairer.finish()
    return (pairer.sink, pairer.diagnostics)
}

import ArgumentParser
import Foundation
import HVTrace

/// `hvtrace flame FILE`: hypervisor time by exit reason and handler phase.
struct Flame: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hypervisor time attributed to stacks of exit reason and handler phases.",
        discussion: """
            Stacks are REASON;phase;phase;…[;detail] (e.g. DABT_LOW;stage2_fault;mmio;pl011); each \
            frame's self time is the time not covered by its children, and the stacks add up exactly \
            to the total paired hypervisor time. --folded writes Brendan Gregg's folded format \
            (flamegraph.pl, inferno, speedscope); with --diff it writes 'stack base candidate' lines \
            for difffolded-style tools. --svg draws a static flame graph (flamegraph.pl style, \
            tooltips on hover); with --diff a differential one (candidate widths, red grew, blue shrank).
            """)

    @Argument(help: "A .hvt trace.")
    var file: String

    @Flag(help: "Write folded stacks ('a;b;c ticks') instead of the tree.")
    var folded = false

    @Flag(help: "Write a static SVG flame graph instead of the tree (with --diff: a differential one).")
    var svg = false

    @Option(help: ArgumentHelp("Show what grew or shrank against BASE (a .hvt trace or a folded file).", valueName: "BASE"))
    var diff: String?

    @Option(help: "Hide frames (or diff rows) below this percentage of the total.")
    var minPct: Double = 0

    @Option(name: [.short, .long], help: ArgumentHelp("Write the output to PATH (temporary file and rename) instead of stdout.", valueName: "PATH"))
    var output: String?

    func validate() throws {
        if svg && folded { throw ValidationError("--svg and --folded are two outputs: choose one") }
        guard minPct >= 0 && minPct <= 100 else { throw ValidationError("--min-pct must be between 0 and 100") }
    }

    func run() throws {
        let (builder, pairing, diagnostics) = try TraceAnalysis.flameGraph(path: file, warn: printWarning)
        var text: String
        if svg {
            let clock = (try? PageSource(path: file))?.header.region.clockFrequency ?? 0
            var renderer = FlameSVG(title: "hvtrace flame: \((file as NSString).lastPathComponent)",
                                    subtitle: "\(pairing.pairedExits) exits, \(FlameSVG.describe(builder.graph.totalTicks, clock: clock)) in the hypervisor",
                                    clockFrequency: clock)
            renderer.minimumFrameWidth = max(0.1, minPct / 100 * renderer.width)
            var tree = builder.graph.tree()
            if let diff {
                let base = try Flame.loadGraph(diff)
                tree = FlameNode.differential(base: base.tree(), candidate: tree)
                renderer.title = "hvtrace flame diff: \((diff as NSString).lastPathComponent) → \((file as NSString).lastPathComponent)"
                renderer.subtitle = "base \(FlameSVG.describe(base.totalTicks, clock: clock)), candidate "
                    + "\(FlameSVG.describe(builder.graph.totalTicks, clock: clock)) in the hypervisor"
            }
            text = renderer.render(tree)
        } else if let diff {
            let base = try Flame.loadGraph(diff)
            let delta = FlameDiff(base: base, candidate: builder.graph)
            text = folded ? delta.folded() : delta.text(minPercent: minPct)
        } else if folded {
            text = builder.graph.folded()
        } else {
            text = "hvtrace flame: \(file): \(pairing.pairedExits) exits, \(builder.graph.totalTicks) ticks in the hypervisor\n"
            let problems = (diagnostics + pairing.entries).filter { $0.value > 0 && $0.severity != .info }
            for problem in problems { text += "warning: \(problem.name) = \(problem.value): \(problem.description)\n" }
            if builder.diagnostics.mismatchedSpanLeaves + builder.diagnostics.spansOpenAtReturn > 0 {
                text += "warning: \(builder.diagnostics.mismatchedSpanLeaves) mismatched span leaves, "
                    + "\(builder.diagnostics.spansOpenAtReturn) spans open at return\n"
            }
            if builder.graph.isSaturated {
                text += "warning: tick totals reached 2^64-1 and stopped there (exits of impossible length: a corrupt timestamp); shares are lower bounds\n"
            }
            if builder.diagnostics.spansTooDeep > 0 {
                text += "warning: \(builder.diagnostics.spansTooDeep) spans nested deeper than \(FlameBuilder.maximumSpanDepth) levels "
                    + "were folded into their parent\n"
            }
            text += builder.graph.tree(minPercent: minPct)
        }
        if let output { try TraceAnalysis.write(text, to: output) } else { print(text, terminator: "") }
    }

    /// A flame graph from a trace (`.hvt`) or a folded-stacks file.
    static func loadGraph(_ path: String) throws -> FlameGraph {
        if path.hasSuffix(".hvt") { return try TraceAnalysis.flameGraph(path: path, warn: printWarning).builder.graph }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AnalysisInputError.unreadable(file: path, reason: PosixErrors.lastMessage(opening: path))
        }
        return try FlameGraph.parseFolded(String(decoding: data, as: UTF8.self), source: path)
    }
}

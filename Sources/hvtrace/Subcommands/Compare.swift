import ArgumentParser
import Foundation
import HVTrace

/// `hvtrace compare BASE CANDIDATE`: per-reason regression verdicts; exit status 1 on a regression.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two traces or JSON summaries and flag latency regressions per exit reason.",
        discussion: """
            For each exit reason: Δcount, Δp50, Δp90, Δp99 and Δmean (ns and %), and a two-sided \
            Mann-Whitney U test on the histogram buckets. A metric counts when it moves by more than \
            --threshold-pct percent AND more than --floor-ns ns; p50 and mean changes must also be \
            significant (p < --alpha); p90/p99 changes must have non-overlapping 99 % confidence \
            intervals (order statistics from the histogram buckets). Verdicts: regression, improvement, unchanged, new, gone.

            --thresholds FILE overrides per reason, e.g.
              {"default": {"thresholdPct": 10, "floorNs": 50}, "reasons": {"WFI": {"thresholdPct": 50}}}

            --format html: the verdicts, each reason's base and candidate histograms side by side, and \
            (for two traces) a differential flame graph, growth red, shrink blue.

            Exit status: 0 no regression, 1 at least one regression, 2 usage or input error.
            """)

    @Argument(help: "The baseline: a .hvt trace or a 'report --format json' summary.")
    var base: String

    @Argument(help: "The candidate: a .hvt trace or a 'report --format json' summary.")
    var candidate: String

    @Option(help: "Relative change (percent) a metric must exceed.")
    var thresholdPct: Double = 10

    @Option(help: "Absolute change (ns) a metric must also exceed.")
    var floorNs: Double = 50

    @Option(help: ArgumentHelp("Per-reason thresholds (JSON, see above).", valueName: "FILE"))
    var thresholds: String?

    @Option(help: "Significance level of the Mann-Whitney test.")
    var alpha: Double = 0.01

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard thresholdPct >= 0, floorNs >= 0 else { throw ValidationError("thresholds must not be negative") }
        guard alpha > 0 && alpha < 1 else { throw ValidationError("--alpha must be between 0 and 1") }
    }

    func run() throws {
        var policy = ThresholdPolicy(standard: CompareThresholds(thresholdPct: thresholdPct, floorNs: floorNs))
        if let thresholds {
            guard let data = FileManager.default.contents(atPath: thresholds) else {
                throw AnalysisInputError.unreadable(file: thresholds, reason: PosixErrors.lastMessage(opening: thresholds))
            }
            policy = try ThresholdPolicy.parse(data, file: thresholds, base: policy.standard)
        }
        let comparison = Comparison(base: try TraceAnalysis.reportOrSummary(path: base, warn: printWarning),
                                    candidate: try TraceAnalysis.reportOrSummary(path: candidate, warn: printWarning),
                                    baseName: base, candidateName: candidate, policy: policy, alpha: alpha)
        if output.format == .html {
            try output.emit(try HTMLComparePage.make(comparison: comparison, basePath: base, candidatePath: candidate, warn: printWarning))
        } else {
            try output.emit(try comparison.rendered(as: output.format))
        }
        if comparison.hasRegression { throw ExitCode(1) }
    }
}

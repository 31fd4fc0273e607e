import Foundation
import Testing
@testable import HVTrace

/// `synth --scale`: a candidate with one exit kind slower by a known factor, the performance
/// gate's synthetic regression (scripts/test-perf-gate.sh uses the same option).
struct LatencyScaleTests {
    @Test("Only the scaled kind's latencies move, each by the factor (±1 tick of rounding); compare flags only that reason",
          arguments: [(SyntheticExitKind.hvc, "HVC64"), (.irq, "IRQ"), (.sysreg, "SYS64")])
    func scalingOneKindMovesOnlyItsReason(kind: SyntheticExitKind, reason: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (basePath, base) = try SyntheticTraceTests.generate(directory, name: "base.hvt")
        let (candidatePath, candidate) = try SyntheticTraceTests.generate(directory, name: "candidate.hvt") {
            $0.latencyScale = [kind: 1.2]
        }
        #expect(Set(base.reasons.keys) == Set(candidate.reasons.keys))
        for (name, baseReason) in base.reasons {
            let scaled = try #require(candidate.reasons[name]).latencies
            // The random stream is unchanged, so the exits come in the same order.
            #expect(scaled.count == baseReason.latencies.count, "\(name)")
            if name == reason {
                let worst = zip(baseReason.latencies, scaled).map { abs(Double($1) - 1.2 * Double($0)) }.max() ?? 0
                #expect(worst <= 1.1, "\(name): a latency is \(worst) ticks away from 1.2 × its base")
            } else {
                #expect(scaled == baseReason.latencies, "\(name) must not move")
            }
        }

        let policy = ThresholdPolicy(standard: CompareThresholds(thresholdPct: 2, floorNs: 50))
        let comparison = Comparison(base: try TraceAnalysis.report(path: basePath, grouping: .reason),
                                    candidate: try TraceAnalysis.report(path: candidatePath, grouping: .reason),
                                    baseName: "base", candidateName: "candidate", policy: policy)
        #expect(comparison.hasRegression)
        #expect(comparison.reasons.filter { $0.verdict == .regression }.map(\.reason) == [reason])
    }
}

import Foundation
import Testing
@testable import HVTrace

func report(seed: UInt64, scale: [ExitShape: Double] = [:], exits: Int = 10_000) -> ExitReport {
    let trace = SyntheticTrace.generate(seed: seed, cpus: 2, exits: exits, scale: scale)
    return makeReport(events: trace.events, clockFrequency: 1_000_000_000, cpuCount: 2)
}

@Test(arguments: [ExitShape.uartWrite, .vtimerIRQ, .sysregCNTV])
func twentyPercentSlowerReasonIsTheOnlyRegression(shape: ExitShape) {
    let comparison = Comparison(base: report(seed: 100), candidate: report(seed: 200, scale: [shape: 1.2]),
                                baseName: "base", candidateName: "candidate")
    #expect(comparison.hasRegression)
    for reason in comparison.reasons {
        #expect(reason.verdict == (reason.reason == shape.reason ? .regression : .unchanged), "\(reason.reason)")
    }
    let p99 = comparison.reasons.first { $0.reason == shape.reason }!.metrics.first { $0.metric == "p99" }!
    #expect(abs(p99.deltaPct! - 20) < 8)
}

@Test func identicalInputsAreUnchanged() {
    let base = report(seed: 5)
    let comparison = Comparison(base: base, candidate: base, baseName: "a", candidateName: "a")
    #expect(!comparison.hasRegression)
    #expect(comparison.reasons.allSatisfy { $0.verdict == .unchanged })
    #expect(comparison.reasons.allSatisfy { $0.metrics.allSatisfy { $0.deltaNs == 0 } })
    #expect(comparison.reasons.allSatisfy { $0.test!.pValue > 0.99 })
}

@Test(arguments: [(UInt64(11), UInt64(12)), (13, 14), (15, 16)])
func noiseWithinThresholdsDoesNotFail(seeds: (UInt64, UInt64)) {
    // Same distributions, different samples, plus a 3 % drift: below the 10 % threshold.
    let comparison = Comparison(base: report(seed: seeds.0), candidate: report(seed: seeds.1, scale: [.uartWrite: 1.03]),
                                baseName: "base", candidateName: "candidate")
    #expect(!comparison.hasRegression, "\(comparison.text())")
}

@Test func smallFasterReasonIsAnImprovementAndThresholdOverridesApply() throws {
    let base = report(seed: 21), faster = report(seed: 22, scale: [.psciCPUOn: 0.5])
    let comparison = Comparison(base: base, candidate: faster, baseName: "b", candidateName: "c")
    #expect(comparison.reasons.first { $0.reason == "HVC64" }?.verdict == .improvement)
    #expect(!comparison.hasRegression)

    let slower = report(seed: 22, scale: [.psciCPUOn: 1.3])
    let json = Data(#"{"default": {"floorNs": 10}, "reasons": {"HVC64": {"thresholdPct": 40}}}"#.utf8)
    let policy = try ThresholdPolicy.parse(json, file: "t.json", base: CompareThresholds(thresholdPct: 10, floorNs: 50))
    #expect(policy.standard == CompareThresholds(thresholdPct: 10, floorNs: 10))
    #expect(policy.thresholds(for: "HVC64") == CompareThresholds(thresholdPct: 40, floorNs: 10))
    #expect(Comparison(base: base, candidate: slower, baseName: "b", candidateName: "c").hasRegression)
    #expect(!Comparison(base: base, candidate: slower, baseName: "b", candidateName: "c", policy: policy).hasRegression)
}

@Test func badThresholdsFileIsATypedError() {
    #expect(throws: AnalysisInputError.self) {
        try ThresholdPolicy.parse(Data("{\"default\": {\"thresholdPct\": -1}}".utf8), file: "t.json", base: CompareThresholds())
    }
}

@Test func newAndGoneReasons() {
    let base = report(seed: 31)
    var candidate = base
    candidate.reasons.removeAll { $0.reason == "WFI" }
    candidate.reasons.append(ReportRow(reason: "SMC64", group: nil, count: 3, shareOfExits: 0, shareOfTime: 0, totalTicks: 30,
                                       ticks: base.reasons[0].ticks, nanoseconds: base.reasons[0].nanoseconds, log2Histogram: [],
                                       histogram: BucketedDistribution(buckets: [.init(value: 10, count: 3)], overflowCount: 0, max: 10)))
    let comparison = Comparison(base: base, candidate: candidate, baseName: "b", candidateName: "c")
    #expect(comparison.reasons.first { $0.reason == "WFI" }?.verdict == .gone)
    #expect(comparison.reasons.first { $0.reason == "SMC64" }?.verdict == .new)
    #expect(!comparison.hasRegression)
}

@Test func jsonSummaryComparesLikeTheTraceItCameFrom() throws {
    let base = report(seed: 41), candidate = report(seed: 42, scale: [.uartWrite: 1.25])
    let decodedBase = try ExitReport.decode(try base.jsonData())
    let decodedCandidate = try ExitReport.decode(try candidate.jsonData())
    #expect(decodedBase == base)
    let direct = Comparison(base: base, candidate: candidate, baseName: "b", candidateName: "c")
    let viaJSON = Comparison(base: decodedBase, candidate: decodedCandidate, baseName: "b", candidateName: "c")
    #expect(direct == viaJSON)
}

@Test func mannWhitneyMatchesAHandComputedExample() throws {
    // Base {1, 2, 2}, candidate {2, 3, 4}: ranks 1, 3, 3, 3, 5, 6 → candidate rank sum 14, U = 14 − 6 = 8.
    let result = try #require(MannWhitneyResult.test(base: [(1, 1), (2, 2)], candidate: [(2, 1), (3, 1), (4, 1)], minimumCount: 1))
    #expect(result.u == 8)
    #expect(abs(result.probabilityCandidateSlower - 8.0 / 9.0) < 1e-12)
    // Variance 9/12·(7 − 24/30) = 4.65; z = (8 − 4.5 − 0.5)/√4.65.
    #expect(abs(result.z - 3 / 4.65.squareRoot()) < 1e-12)
}

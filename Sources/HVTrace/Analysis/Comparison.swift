// Regression comparison of two reports (from traces or saved JSON summaries): per exit reason the
// change of count, p50, p90, p99 and mean, a Mann-Whitney U test on the histogram buckets, and a
// verdict against configurable thresholds.

import Foundation

/// How large a change must be to count, for one reason or by default.
public struct CompareThresholds: Equatable, Sendable, Codable {
    /// Relative change (percent of the base value) a metric must exceed.
    public var thresholdPct: Double
    /// Absolute change (ns) a metric must also exceed, so tiny exits don't flap on a few ns.
    public var floorNs: Double

    public init(thresholdPct: Double = 10, floorNs: Double = 50) {
        self.thresholdPct = thresholdPct
        self.floorNs = floorNs
    }
}

/// Thresholds for all reasons plus per-reason overrides, as read from `--thresholds FILE`:
/// `{"default": {"thresholdPct": 10, "floorNs": 50}, "reasons": {"WFI": {"thresholdPct": 50}}}`;
/// any field may be left out (it then falls back to the default, then to the command-line values).
public struct ThresholdPolicy: Equatable, Sendable {
    public var standard: CompareThresholds
    public var overrides: [String: CompareThresholds]

    public init(standard: CompareThresholds = CompareThresholds(), overrides: [String: CompareThresholds] = [:]) {
        self.standard = standard
        self.overrides = overrides
    }

    public func thresholds(for reason: String) -> CompareThresholds { overrides[reason] ?? standard }

    struct PartialThresholds: Decodable {
        var thresholdPct: Double?
        var floorNs: Double?
    }

    struct File: Decodable {
        var `default`: PartialThresholds?
        var reasons: [String: PartialThresholds]?
    }

    /// Reads a thresholds file on top of `base` (the command-line values).
    public static func parse(_ data: Data, file: String, base: CompareThresholds) throws(AnalysisInputError) -> ThresholdPolicy {
        let parsed: File
        do { parsed = try JSONDecoder().decode(File.self, from: data) } catch {
            throw .badThresholds(file: file, reason: JSONInputProblem.describe(error, data: data))
        }
        func merged(_ partial: PartialThresholds?, over fallback: CompareThresholds, at place: String) throws(AnalysisInputError) -> CompareThresholds {
            let value = CompareThresholds(thresholdPct: partial?.thresholdPct ?? fallback.thresholdPct,
                                          floorNs: partial?.floorNs ?? fallback.floorNs)
            guard value.thresholdPct >= 0 else { throw .badThresholds(file: file, reason: "field '\(place).thresholdPct' is negative") }
            guard value.floorNs >= 0 else { throw .badThresholds(file: file, reason: "field '\(place).floorNs' is negative") }
            return value
        }
        let standard = try merged(parsed.default, over: base, at: "default")
        var overrides: [String: CompareThresholds] = [:]
        for (reason, partial) in (parsed.reasons ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard ExitReason(name: reason) != nil else {
                throw .badThresholds(file: file, reason: "field 'reasons.\(reason)': no exit reason is called '\(reason)'")
            }
            overrides[reason] = try merged(partial, over: standard, at: "reasons.\(reason)")
        }
        return ThresholdPolicy(standard: standard, overrides: overrides)
    }
}

/// The result of a two-sided Mann-Whitney U test (normal approximation with tie correction).
public struct MannWhitneyResult: Equatable, Sendable, Codable {
    /// U of the candidate sample.
    public var u: Double
    public var z: Double
    /// Two-sided p-value.
    public var pValue: Double
    /// P(candidate > base) + ½ P(equal): 0.5 means no shift, above 0.5 the candidate is slower.
    public var probabilityCandidateSlower: Double

    /// Tests whether `candidate` tends to be larger or smaller than `base`. Each input is sorted
    /// (value, count) pairs; equal values are ties and get mid-ranks. Nil when either side has fewer
    /// than `minimumCount` samples (the normal approximation would be meaningless).
    public static func test(base: [(Double, UInt64)], candidate: [(Double, UInt64)], minimumCount: UInt64 = 8) -> MannWhitneyResult? {
        let n1 = base.reduce(0.0) { $0 + Double($1.1) }, n2 = candidate.reduce(0.0) { $0 + Double($1.1) }
        guard n1 >= Double(minimumCount), n2 >= Double(minimumCount) else { return nil }
        var i = 0, j = 0
        var ranked = 0.0, candidateRankSum = 0.0, tieTerm = 0.0
        while i < base.count || j < candidate.count {
            let value = min(i < base.count ? base[i].0 : .infinity, j < candidate.count ? candidate[j].0 : .infinity)
            var a = 0.0, b = 0.0
            while i < base.count && base[i].0 == value { a += Double(base[i].1); i += 1 }
            while j < candidate.count && candidate[j].0 == value { b += Double(candidate[j].1); j += 1 }
            let tied = a + b
            candidateRankSum += b * (ranked + (tied + 1) / 2)
            tieTerm += tied * tied * tied - tied
            ranked += tied
        }
        let total = n1 + n2
        let u = candidateRankSum - n2 * (n2 + 1) / 2
        let mean = n1 * n2 / 2
        let variance = n1 * n2 / 12 * ((total + 1) - tieTerm / (total * (total - 1)))
        guard variance > 0 else {
            return MannWhitneyResult(u: u, z: 0, pValue: 1, probabilityCandidateSlower: u / (n1 * n2))
        }
        let distance = max(0, abs(u - mean) - 0.5)  // continuity correction
        let z = (u >= mean ? distance : -distance) / variance.squareRoot()
        return MannWhitneyResult(u: u, z: z, pValue: erfc(abs(z) / 2.0.squareRoot()), probabilityCandidateSlower: u / (n1 * n2))
    }
}

/// What the comparison concluded for one reason.
public enum CompareVerdict: String, Sendable, Codable {
    case regression, improvement, unchanged, new, gone
}

/// One metric's change.
public struct MetricChange: Equatable, Sendable, Codable {
    public var metric: String
    public var baseNs: Double
    public var candidateNs: Double
    public var deltaNs: Double
    /// Percent of the base value; nil when the base is 0.
    public var deltaPct: Double?
    /// The change is beyond both thresholds and supported by enough samples (or the test).
    public var significantIncrease: Bool
    public var significantDecrease: Bool
}

/// The comparison of one exit reason.
public struct ReasonComparison: Equatable, Sendable, Codable {
    public var reason: String
    public var verdict: CompareVerdict
    public var baseCount: UInt64
    public var candidateCount: UInt64
    public var deltaCount: Int64
    public var deltaCountPct: Double?
    public var metrics: [MetricChange]
    public var test: MannWhitneyResult?
    public var thresholds: CompareThresholds
    /// Why a large change was not called (too few samples, not significant), if it applies.
    public var note: String?
}

/// The whole comparison (its JSON is what `compare --format json` prints).
public struct Comparison: Equatable, Sendable, Codable {
    public static let currentSchemaVersion = 1
    public var schemaVersion = Comparison.currentSchemaVersion
    public var base: String
    public var candidate: String
    /// Significance level for the Mann-Whitney test that the p50 and mean changes need.
    public var alpha: Double
    /// Normal quantile of the distribution-free confidence intervals of p90 and p99 (2.576: 99 %).
    public var tailConfidenceZ: Double
    public var reasons: [ReasonComparison]

    public var hasRegression: Bool { reasons.contains { $0.verdict == .regression } }

    /// Compares `candidate` against `base` reason by reason.
    public init(base: ExitReport, candidate: ExitReport, baseName: String, candidateName: String,
                policy: ThresholdPolicy = ThresholdPolicy(), alpha: Double = 0.01, tailConfidenceZ: Double = 2.576) {
        self.base = baseName
        self.candidate = candidateName
        self.alpha = alpha
        self.tailConfidenceZ = tailConfidenceZ
        let baseRows = Dictionary(base.reasons.map { ($0.reason, $0) }, uniquingKeysWith: { a, _ in a })
        let candidateRows = Dictionary(candidate.reasons.map { ($0.reason, $0) }, uniquingKeysWith: { a, _ in a })
        let names = Set(baseRows.keys).union(candidateRows.keys).sorted()
        reasons = names.map { name in
            Comparison.compare(reason: name, base: baseRows[name], baseClock: base.trace.clockFrequencyHz,
                               candidate: candidateRows[name], candidateClock: candidate.trace.clockFrequencyHz,
                               thresholds: policy.thresholds(for: name), alpha: alpha, tailZ: tailConfidenceZ)
        }
        // Regressions first, then by reason name.
        let order: [CompareVerdict: Int] = [.regression: 0, .improvement: 1, .new: 2, .gone: 3, .unchanged: 4]
        reasons.sort { order[$0.verdict]! != order[$1.verdict]! ? order[$0.verdict]! < order[$1.verdict]! : $0.reason < $1.reason }
    }

    /// A distribution-free confidence interval (ns) of the `quantile` of `row`: the values at the
    /// order-statistic ranks n·q ± z·√(n·q·(1−q)).
    static func confidenceInterval(_ row: ReportRow, quantile: Double, z: Double, clock: UInt64) -> ClosedRange<Double> {
        let n = Double(row.histogram.totalCount)
        let spread = z * (n * quantile * (1 - quantile)).squareRoot()
        // Ranks as Double first: n can be any UInt64, and Double(UInt64.max) does not fit back.
        func rank(_ value: Double) -> UInt64 { value >= 18_446_744_073_709_551_615.0 ? .max : UInt64(max(1, value)) }
        let low = rank((n * quantile - spread).rounded(.down))
        let high = rank(min(n, (n * quantile + spread).rounded(.up) + 1))
        let scale = 1e9 / Double(max(1, clock))
        return Double(row.histogram.value(atRank: low)) * scale...Double(row.histogram.value(atRank: max(low, high))) * scale
    }

    static func compare(reason: String, base: ReportRow?, baseClock: UInt64, candidate: ReportRow?, candidateClock: UInt64,
                        thresholds: CompareThresholds, alpha: Double, tailZ: Double) -> ReasonComparison {
        let baseCount = base?.count ?? 0, candidateCount = candidate?.count ?? 0
        var result = ReasonComparison(
            reason: reason, verdict: .unchanged, baseCount: baseCount, candidateCount: candidateCount,
            deltaCount: Int64(bitPattern: candidateCount &- baseCount),
            deltaCountPct: baseCount == 0 ? nil : (Double(candidateCount) - Double(baseCount)) * 100 / Double(baseCount),
            metrics: [], test: nil, thresholds: thresholds, note: nil)
        guard let base, base.count > 0 else { result.verdict = .new; return result }
        guard let candidate, candidate.count > 0 else { result.verdict = .gone; return result }

        func nanosecondPairs(_ row: ReportRow, clock: UInt64) -> [(Double, UInt64)] {
            let scale = 1e9 / Double(max(1, clock))
            var pairs = row.histogram.buckets.map { (Double($0.value) * scale, $0.count) }
            if row.histogram.overflowCount > 0 { pairs.append((Double(row.histogram.max) * scale, row.histogram.overflowCount)) }
            return pairs
        }
        let test = MannWhitneyResult.test(base: nanosecondPairs(base, clock: baseClock),
                                          candidate: nanosecondPairs(candidate, clock: candidateClock))
        result.test = test
        let significant = test.map { $0.pValue < alpha } ?? false

        var notes: [String] = []
        let metrics: [(String, KeyPath<LatencySummary, Double>, Double?)] = [
            ("p50", \.p50, nil), ("p90", \.p90, 0.9), ("p99", \.p99, 0.99), ("mean", \.mean, nil),
        ]
        for (name, path, tail) in metrics {
            let b = base.nanoseconds[keyPath: path], c = candidate.nanoseconds[keyPath: path]
            let delta = c - b
            let percent: Double? = b == 0 ? nil : delta * 100 / b
            let beyond = abs(delta) > thresholds.floorNs && (percent.map { abs($0) > thresholds.thresholdPct } ?? true)
            // Central metrics need the Mann-Whitney test; tail percentiles need their confidence
            // intervals (order statistics, from the buckets) not to overlap.
            var increase = significant && test!.z > 0, decrease = significant && test!.z < 0
            if let tail {
                let b = confidenceInterval(base, quantile: tail, z: tailZ, clock: baseClock)
                let c = confidenceInterval(candidate, quantile: tail, z: tailZ, clock: candidateClock)
                increase = c.lowerBound > b.upperBound
                decrease = c.upperBound < b.lowerBound
            }
            let supported = delta > 0 ? increase : decrease
            if beyond && !supported {
                notes.append(tail == nil ? "\(name) moved but Mann-Whitney p ≥ \(alpha)"
                                         : "\(name) moved but its confidence intervals overlap")
            }
            result.metrics.append(MetricChange(metric: name, baseNs: b, candidateNs: c, deltaNs: delta, deltaPct: percent,
                                               significantIncrease: beyond && supported && delta > 0,
                                               significantDecrease: beyond && supported && delta < 0))
        }
        if result.metrics.contains(where: \.significantIncrease) {
            result.verdict = .regression
        } else if result.metrics.contains(where: \.significantDecrease) {
            result.verdict = .improvement
        }
        if !notes.isEmpty { result.note = notes.joined(separator: "; ") }
        return result
    }
}

extension Comparison: RenderableOutput {
    func table() -> TextTable {
        var table = TextTable(header: ["reason", "verdict", "count Δ%", "p50 Δns (Δ%)", "p90 Δns (Δ%)", "p99 Δns (Δ%)",
                                       "mean Δns (Δ%)", "MW p"])
        for reason in reasons {
            var row = [reason.reason, reason.verdict.rawValue,
                       "\(reason.candidateCount) " + (reason.deltaCountPct.map { String(format: "%+.1f", $0) } ?? "-")]
            for metric in reason.metrics {
                row.append(String(format: "%+.0f", metric.deltaNs) + " (" + (metric.deltaPct.map { String(format: "%+.1f", $0) } ?? "-") + ")")
            }
            while row.count < 7 { row.append("-") }
            row.append(reason.test.map { $0.pValue < 0.0001 ? "<0.0001" : String(format: "%.4f", $0.pValue) } ?? "-")
            table.rows.append(row)
        }
        return table
    }

    var summaryLine: String {
        let count = { (verdict: CompareVerdict) in reasons.filter { $0.verdict == verdict }.count }
        return "\(count(.regression)) regression(s), \(count(.improvement)) improvement(s), \(count(.unchanged)) unchanged, "
            + "\(count(.new)) new, \(count(.gone)) gone"
    }

    public func text() -> String {
        var text = "hvtrace compare: base \(base), candidate \(candidate)\n"
        text += summaryLine + "\n\n" + table().render(indent: "  ")
        let notes = reasons.compactMap { reason in reason.note.map { "  \(reason.reason): \($0)" } }
        if !notes.isEmpty { text += "\nnotes:\n" + notes.joined(separator: "\n") + "\n" }
        return text
    }

    public func markdown() -> String {
        var text = "# hvtrace compare\n\nBase: `\(base)`  \nCandidate: `\(candidate)`\n\n**\(summaryLine)**\n\n" + table().markdown()
        let notes = reasons.compactMap { reason in reason.note.map { "- \(reason.reason): \($0)" } }
        if !notes.isEmpty { text += "\nNotes:\n\n" + notes.joined(separator: "\n") + "\n" }
        return text
    }
}

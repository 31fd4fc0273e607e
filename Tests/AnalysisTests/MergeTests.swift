// Merging reports (`ReportMerger`): the merge of the reports of two traces equals one report of
// the two traces concatenated, through JSON too, and in any grouping; inputs that cannot add
// exactly are refused with errors that name them.

import Foundation
import Testing
@testable import HVTrace

/// `second` moved in time so that it starts exactly where `first` ends (one recording after the
/// other on the same clock: the durations add, as the merge of separate recordings assumes).
func concatenated(_ first: [TimedEvent], _ second: [TimedEvent]) -> (shifted: [TimedEvent], all: [TimedEvent]) {
    let end = first.map(\.timestamp).max()!, start = second.map(\.timestamp).min()!
    let shifted = second.map { TimedEvent(timestamp: $0.timestamp - start + end, cpu: $0.cpu, event: $0.event) }
    return (shifted, first + shifted)
}

/// The merged report with the field only a merge has cleared, for comparing with a direct report.
func withoutMergeProvenance(_ report: ExitReport) -> ExitReport {
    var report = report
    report.trace.mergedFrom = nil
    return report
}

@Test(arguments: [ReportGrouping.reason, .hvc, .device, .vcpu, .cpu])
func mergeEqualsOneReportOfTheConcatenatedInput(grouping: ReportGrouping) throws {
    let first = SyntheticTrace.generate(seed: 11, cpus: 2, exits: 3_000).events
    let second = SyntheticTrace.generate(seed: 12, cpus: 2, exits: 2_000, scale: [.uartWrite: 1.7, .wfi: 0.5]).events
    let (shifted, all) = concatenated(first, second)
    let clock: UInt64 = 62_500_000
    let a = makeReport(events: first, clockFrequency: clock, cpuCount: 2, grouping: grouping)
    let b = makeReport(events: shifted, clockFrequency: clock, cpuCount: 2, grouping: grouping)
    let whole = makeReport(events: all, clockFrequency: clock, cpuCount: 2, grouping: grouping)

    let merged = try ReportMerger.merge([a, b], names: ["a", "b"])
    #expect(merged.trace.mergedFrom == ["a", "b"])
    #expect(withoutMergeProvenance(merged) == whole)
    // The reduce works on saved summaries: JSON loses nothing the merge needs.
    let fromJSON = try ReportMerger.merge([try ExitReport.decode(try a.jsonData()), try ExitReport.decode(try b.jsonData())],
                                          names: ["a", "b"])
    #expect(fromJSON == merged)
    #expect(try fromJSON.jsonData() == merged.jsonData())
    // Order does not matter for the figures.
    #expect(withoutMergeProvenance(try ReportMerger.merge([b, a])) == whole)
}

@Test func mergeIsAReduceOfReduces() throws {
    let parts = (0..<4).map { SyntheticTrace.generate(seed: 100 + UInt64($0), cpus: 2, exits: 500).events }
    var all = parts[0]
    var shiftedParts = [parts[0]]
    for part in parts.dropFirst() {
        let (shifted, joined) = concatenated(all, part)
        shiftedParts.append(shifted)
        all = joined
    }
    let reports = shiftedParts.map { makeReport(events: $0, clockFrequency: 1_000_000_000, cpuCount: 2, grouping: .hvc) }
    let names = ["p0", "p1", "p2", "p3"]
    let flat = try ReportMerger.merge(reports, names: names)
    let left = try ReportMerger.merge(Array(reports[0..<2]), names: ["p0", "p1"])
    let right = try ReportMerger.merge(Array(reports[2..<4]), names: ["p2", "p3"])
    let nested = try ReportMerger.merge([left, right])
    #expect(nested == flat)
    #expect(nested.trace.mergedFrom == names)
    #expect(withoutMergeProvenance(flat) == makeReport(events: all, clockFrequency: 1_000_000_000, cpuCount: 2, grouping: .hvc))
}

/// Counters of damaged inputs add too: unmatched exits, lost events, every diagnostic by name.
@Test func mergeAddsEveryDiagnostic() throws {
    let damaged = snapshotEvents()
    let report = makeReport(events: damaged, clockFrequency: 62_500_000, cpuCount: 2)
    let merged = try ReportMerger.merge([report, report, report])
    #expect(merged.pairing.pairedExits == 3 * report.pairing.pairedExits)
    #expect(merged.pairing.unmatchedEntries == 3 * report.pairing.unmatchedEntries)
    #expect(merged.pairing.returnsWithoutEntry == 3 * report.pairing.returnsWithoutEntry)
    #expect(merged.diagnostics.map(\.name) == report.diagnostics.map(\.name))
    for (entry, original) in zip(merged.diagnostics, report.diagnostics) { #expect(entry.value == 3 * original.value, "\(entry.name)") }
    #expect(merged.trace.durationTicks == 3 * report.trace.durationTicks)
    #expect(merged.lossBanner != nil)
    // Pieces of one recording: the span, not the sum.
    let pieces = try ReportMerger.merge([report, report], timeSpans: .piecesOfOneRecording)
    #expect(pieces.trace.durationTicks == report.trace.durationTicks)
}

@Test func mergeRefusesWhatDoesNotAddExactly() throws {
    let events = SyntheticTrace.generate(seed: 5, cpus: 1, exits: 100).events
    let slow = makeReport(events: events, clockFrequency: 62_500_000)
    let fast = makeReport(events: events, clockFrequency: 1_000_000_000)
    let byHVC = makeReport(events: events, clockFrequency: 62_500_000, grouping: .hvc)
    #expect(throws: ReportMergeError.clockMismatch(first: "slow.json", firstHz: 62_500_000, other: "fast.json", otherHz: 1_000_000_000)) {
        try ReportMerger.merge([slow, fast], names: ["slow.json", "fast.json"])
    }
    #expect(throws: ReportMergeError.groupingMismatch(first: "a", firstGrouping: "reason", other: "b", otherGrouping: "hvc")) {
        try ReportMerger.merge([slow, byHVC], names: ["a", "b"])
    }
    #expect(throws: ReportMergeError.noInputs) { try ReportMerger.merge([]) }
    #expect(ReportMergeError.clockMismatch(first: "a", firstHz: 1, other: "b", otherHz: 2).description
        == "b: its clock runs at 2 Hz but a's at 1 Hz; histograms in ticks of different clocks do not add exactly: merge recordings of one clock")
}

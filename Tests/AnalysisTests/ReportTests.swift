import Foundation
import Testing
@testable import HVTrace

/// Seeds and sizes for the statistical tests: small, medium, and one with a single CPU.
let reportCases: [(seed: UInt64, cpus: Int, exits: Int)] = [(1, 2, 200), (42, 2, 5_000), (7, 1, 20_000)]

@Test(arguments: reportCases.indices)
func reportCountsAndPercentilesMatchGroundTruth(caseIndex: Int) throws {
    let (seed, cpus, exits) = reportCases[caseIndex]
    let trace = SyntheticTrace.generate(seed: seed, cpus: cpus, exits: exits)
    let report = makeReport(events: trace.events, clockFrequency: 1_000_000_000, cpuCount: cpus)

    #expect(report.totals.exits == UInt64(cpus * exits))
    #expect(report.totals.hypervisorTicks == trace.totalTicks)
    #expect(report.pairing.unmatchedEntries == 0 && report.pairing.unmatchedReturns == 0)
    #expect(report.problems.isEmpty)
    #expect(Set(report.reasons.map(\.reason)) == Set(trace.latencies.keys))
    for row in report.reasons {
        let samples = try #require(trace.latencies[row.reason]).sorted()
        #expect(row.count == UInt64(samples.count), "\(row.reason)")
        #expect(row.totalTicks == samples.reduce(0, +))
        #expect(row.ticks.min == Double(samples.first!))
        #expect(row.ticks.max == Double(samples.last!))
        #expect(abs(row.ticks.mean - Double(samples.reduce(0, +)) / Double(samples.count)) < 1e-6)
        for percentile in ReportPercentile.allCases {
            let exact = exactPercentile(samples, thousandths: percentile.rawValue)
            let reported = UInt64(row.ticks[percentile])
            // HdrHistogram with 3 significant digits: the bucket's highest value, never below the exact one.
            #expect(reported >= exact && reported - exact <= exact / 1000,
                    "\(row.reason) \(percentile.label): exact \(exact), reported \(reported)")
        }
        #expect(row.log2Histogram.reduce(0) { $0 + $1.count } == row.count)
        #expect(row.histogram.totalCount == row.count)
    }
}

@Test func nanosecondsUseTheTraceClock() {
    // A 62.5 MHz clock: one tick is 16 ns.
    let events: [TimedEvent] = [
        .init(timestamp: 100, cpu: 0, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0)),
        .init(timestamp: 110, cpu: 0, event: .exitReturn),
    ]
    let report = makeReport(events: events, clockFrequency: 62_500_000)
    #expect(report.reasons.first?.ticks.p50 == 10)
    #expect(report.reasons.first?.nanoseconds.p50 == 160)
    #expect(report.reasons.first?.log2Histogram == [Log2Bucket(lowNs: 128, highNs: 256, count: 1)])
    #expect(report.trace.durationNs == 160)
}

/// Damaged traces: each case lists its events and the exact counts pairing must report.
struct DamageCase: CustomTestStringConvertible, Sendable {
    var name: String
    var events: [(UInt64, UInt16, TraceEvent)]
    var paired: UInt64, followedByEntry: UInt64, cutByLoss: UInt64, openAtEnd: UInt64, returnsWithoutEntry: UInt64, lost: UInt64
    var testDescription: String { name }
}

let hvcEntry = TraceEvent.exitEntry(ec: 0x16, iss: 0, vcpu: 0)
let damageCases: [DamageCase] = [
    .init(name: "entry followed by entry", events: [(1, 0, hvcEntry), (2, 0, hvcEntry), (5, 0, .exitReturn)],
          paired: 1, followedByEntry: 1, cutByLoss: 0, openAtEnd: 0, returnsWithoutEntry: 0, lost: 0),
    .init(name: "return without entry", events: [(1, 0, .exitReturn), (2, 0, hvcEntry), (3, 0, .exitReturn)],
          paired: 1, followedByEntry: 0, cutByLoss: 0, openAtEnd: 0, returnsWithoutEntry: 1, lost: 0),
    .init(name: "lost events inside an exit", events: [(1, 0, hvcEntry), (2, 0, .lostEvents(count: 17)), (3, 0, .exitReturn)],
          paired: 0, followedByEntry: 0, cutByLoss: 1, openAtEnd: 0, returnsWithoutEntry: 1, lost: 17),
    .init(name: "open at end on one CPU only", events: [(1, 0, hvcEntry), (1, 1, hvcEntry), (4, 1, .exitReturn)],
          paired: 1, followedByEntry: 0, cutByLoss: 0, openAtEnd: 1, returnsWithoutEntry: 0, lost: 0),
    .init(name: "CPUs pair independently", events: [(1, 0, hvcEntry), (2, 1, hvcEntry), (3, 0, .exitReturn), (4, 1, .exitReturn)],
          paired: 2, followedByEntry: 0, cutByLoss: 0, openAtEnd: 0, returnsWithoutEntry: 0, lost: 0),
]

@Test(arguments: damageCases)
func unmatchedExitsAreCountedExactly(damage: DamageCase) {
    let events = damage.events.map { TimedEvent(timestamp: $0.0, cpu: $0.1, event: $0.2) }
    let report = makeReport(events: events, clockFrequency: 1_000_000_000, cpuCount: 2)
    let pairing = report.pairing
    #expect(pairing.pairedExits == damage.paired)
    #expect(report.totals.exits == damage.paired)
    #expect(pairing.entriesFollowedByEntry == damage.followedByEntry)
    #expect(pairing.entriesCutByLostData == damage.cutByLoss)
    #expect(pairing.entriesOpenAtEnd == damage.openAtEnd)
    #expect(pairing.returnsWithoutEntry == damage.returnsWithoutEntry)
    #expect(pairing.lostEvents == damage.lost)
    #expect(pairing.events == UInt64(events.count))
}

@Test func damagedSyntheticTraceCountsEveryDroppedExit() {
    var trace = SyntheticTrace.generate(seed: 9, cpus: 2, exits: 1_000)
    // Drop the return of every 50th exit and the entry of every 70th (counted on the original order).
    var droppedReturns = 0, droppedEntries = 0
    var exitIndex = 0, returnIndex = 0
    var kept: [TimedEvent] = []
    for event in trace.events {
        switch event.event {
        case .exitEntry:
            exitIndex += 1
            if exitIndex % 70 == 0 { droppedEntries += 1; continue }
        case .exitReturn:
            returnIndex += 1
            if returnIndex % 50 == 0 { droppedReturns += 1; continue }
        default: break
        }
        kept.append(event)
    }
    trace.events = kept
    let report = makeReport(events: trace.events, clockFrequency: 1_000_000_000, cpuCount: 2)
    // Every kept entry either pairs or is unmatched; every kept return either pairs or has no entry.
    #expect(report.pairing.pairedExits + report.pairing.unmatchedEntries == UInt64(2_000 - droppedEntries))
    #expect(report.pairing.pairedExits + report.pairing.returnsWithoutEntry == UInt64(2_000 - droppedReturns))
    #expect(!report.problems.isEmpty)
}

@Test(arguments: [ReportGrouping.hvc, .device, .irq, .sysreg, .vcpu])
func groupingCountsMatchGroundTruth(grouping: ReportGrouping) {
    let trace = SyntheticTrace.generate(seed: 3, cpus: 2, exits: 2_000)
    let report = makeReport(events: trace.events, clockFrequency: 1_000_000_000, cpuCount: 2, grouping: grouping)
    #expect(report.grouping == grouping)
    #expect(report.groups.reduce(0) { $0 + $1.count } == report.totals.exits)
    if grouping == .vcpu {
        for (vcpu, count) in trace.vcpuCounts {
            #expect(report.groups.filter { $0.group == "vm0/vcpu\(vcpu)" }.reduce(0) { $0 + $1.count } == UInt64(count))
        }
        return
    }
    let applies: [ReportGrouping: String] = [.hvc: "HVC64", .device: "DABT_LOW", .irq: "IRQ", .sysreg: "SYS64"]
    let reason = applies[grouping]!
    for (label, count) in trace.detailCounts[reason]! {
        let row = report.groups.first { $0.reason == reason && $0.group == label }
        #expect(row?.count == UInt64(count), "\(reason) \(label)")
    }
}

/// A trace naming far more distinct groups than `report --by` keeps histograms for: the first
/// `maximumGroups` get rows, every later one goes to its reason's `(other)` row, nothing is lost,
/// and the diagnostic counts exactly the exits folded.
@Test func byGroupingFoldsGroupsBeyondTheCapIntoOther() {
    var events: [TimedEvent] = []
    var time: UInt64 = 1_000
    let distinct = ReportGrouping.maximumGroups + 136
    for index in 0..<distinct {
        for _ in 0..<2 {
            events.append(TimedEvent(timestamp: time, cpu: 0, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0)))
            events.append(TimedEvent(timestamp: time + 1, cpu: 0,
                                     event: .hypercall(conduit: .hvc, immediate: 0, functionID: 0x8600_0000 + UInt32(index))))
            events.append(TimedEvent(timestamp: time + 100, cpu: 0, event: .exitReturn))
            time += 1_000
        }
    }
    let report = makeReport(events: events, clockFrequency: 1_000_000_000, grouping: .hvc)
    #expect(report.totals.exits == UInt64(2 * distinct))
    #expect(report.groups.count == ReportGrouping.maximumGroups + 1)
    #expect(report.groups.reduce(0) { $0 + $1.count } == report.totals.exits)
    let other = report.groups.first { $0.group == "(other)" }
    #expect(other?.count == UInt64(2 * (distinct - ReportGrouping.maximumGroups)))
    #expect(report.diagnostics.first { $0.name == "groups_folded_into_other" }?.value == other?.count)
    // Without --by the entry is absent: default reports are unchanged.
    #expect(!makeReport(events: events, clockFrequency: 1_000_000_000).diagnostics.contains { $0.name == "groups_folded_into_other" })
}

import Testing
@testable import HVTrace

@Test(arguments: [UInt64(1), 5, 11])
func foldedStacksMatchGroundTruthAndSumToHypervisorTime(seed: UInt64) {
    let trace = SyntheticTrace.generate(seed: seed, cpus: 2, exits: 3_000)
    let (builder, pairing) = makeFlameGraph(events: trace.events, cpuCount: 2)
    #expect(pairing.pairedExits == 6_000)
    #expect(builder.graph.stacks == trace.folded)
    #expect(builder.graph.totalTicks == trace.totalTicks)
    #expect(builder.pairedTicks == trace.totalTicks)
    #expect(builder.diagnostics == FlameDiagnostics())
    // The report sees the same total.
    let report = makeReport(events: trace.events, clockFrequency: 1_000_000_000, cpuCount: 2)
    #expect(report.totals.hypervisorTicks == builder.graph.totalTicks)
}

@Test func foldedTextRoundTrips() throws {
    let trace = SyntheticTrace.generate(seed: 2, cpus: 1, exits: 500)
    let graph = makeFlameGraph(events: trace.events).0.graph
    let folded = graph.folded()
    #expect(folded.contains("DABT_LOW;stage2_fault;mmio;pl011 "))
    let parsed = try FlameGraph.parseFolded(folded, source: "test")
    #expect(parsed.stacks == graph.stacks)
    #expect(parsed.totalTicks == graph.totalTicks)
}

@Test func malformedFoldedLineNamesTheLine() {
    #expect(throws: AnalysisInputError.malformedFoldedLine(file: "x.folded", line: 2)) {
        try FlameGraph.parseFolded("a;b 1\na;b\n", source: "x.folded")
    }
}

@Test func unmatchedExitsContributeNoTimeAndSpanErrorsAreCounted() {
    let events: [TimedEvent] = [
        // Exit 1: a stray leave of a phase never entered, then a proper span left open at return.
        .init(timestamp: 0, cpu: 0, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0)),
        .init(timestamp: 5, cpu: 0, event: .spanLeave(phase: HandlerPhase.psci.rawValue)),
        .init(timestamp: 10, cpu: 0, event: .spanEnter(phase: HandlerPhase.hypercall.rawValue)),
        .init(timestamp: 30, cpu: 0, event: .exitReturn),
        // Exit 2 loses its return: its 1000 ticks must not appear anywhere.
        .init(timestamp: 40, cpu: 0, event: .exitEntry(ec: 0x24, iss: 0, vcpu: 0)),
        .init(timestamp: 45, cpu: 0, event: .spanEnter(phase: HandlerPhase.stage2Fault.rawValue)),
        .init(timestamp: 1040, cpu: 0, event: .lostEvents(count: 3)),
    ]
    let (builder, pairing) = makeFlameGraph(events: events)
    #expect(pairing.pairedExits == 1 && pairing.entriesCutByLostData == 1)
    #expect(builder.graph.stacks == ["HVC64": 10, "HVC64;hypercall": 20])
    #expect(builder.diagnostics.mismatchedSpanLeaves == 1)
    #expect(builder.diagnostics.spansOpenAtReturn == 1)
}

@Test func diffShowsGrowthOfOneStack() {
    let base = SyntheticTrace.generate(seed: 4, cpus: 1, exits: 2_000)
    let candidate = SyntheticTrace.generate(seed: 4, cpus: 1, exits: 2_000, scale: [.uartWrite: 2])
    let diff = FlameDiff(base: makeFlameGraph(events: base.events).0.graph, candidate: makeFlameGraph(events: candidate.events).0.graph)
    let grown = diff.deltas.first!
    #expect(grown.stack.hasPrefix("DABT_LOW"))
    #expect(grown.deltaTicks > 0)
    for delta in diff.deltas where !delta.stack.hasPrefix("DABT_LOW") { #expect(delta.deltaTicks == 0) }
    #expect(diff.text().contains("grew"))
}

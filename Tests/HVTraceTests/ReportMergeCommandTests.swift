// `hvtrace report A B …`: traces and JSON summaries merge to the same report (the README's
// map-reduce: a JSON summary per trace, then one report of the summaries).

import Foundation
import Testing
@testable import HVTrace
@testable import hvtrace

@Test func reportOfSeveralTracesEqualsReportOfTheirSummaries() throws {
    let directory = TemporaryDirectory()
    defer { directory.cleanup() }
    func run(_ arguments: [String]) throws {
        var command = try HVTraceCommand.parseAsRoot(arguments)
        try command.run()
    }
    func text(_ name: String) throws -> String { try String(contentsOfFile: directory.path(name), encoding: .utf8) }
    let traces = ["a.hvt", "b.hvt", "c.hvt"]
    for (index, name) in traces.enumerated() {
        try run(["synth", "--events", "4000", "--seed", String(index + 1), "--cpus", "2", "-o", directory.path(name)])
        try run(["report", directory.path(name), "--by", "cpu", "--format", "json", "-o", directory.path(name + ".json")])
    }
    // Reduce the traces directly, the summaries, and a summary of summaries.
    try run(["report", "--by", "cpu", "--format", "json", "-o", directory.path("from-traces.json")] + traces.map { directory.path($0) })
    try run(["report", "--by", "cpu", "--format", "json", "-o", directory.path("from-summaries.json")]
            + traces.map { directory.path($0 + ".json") })
    try run(["report", "--by", "cpu", "--format", "json", "-o", directory.path("ab.json"),
             directory.path("a.hvt.json"), directory.path("b.hvt.json")])
    try run(["report", "--by", "cpu", "--format", "json", "-o", directory.path("nested.json"),
             directory.path("ab.json"), directory.path("c.hvt.json")])
    let fromTraces = try ExitReport.decode(Data(try text("from-traces.json").utf8))
    let fromSummaries = try ExitReport.decode(Data(try text("from-summaries.json").utf8))
    let nested = try ExitReport.decode(Data(try text("nested.json").utf8))
    #expect(fromTraces.trace.mergedFrom == traces.map { directory.path($0) })
    var summaries = fromSummaries, traced = fromTraces, reduced = nested
    summaries.trace.mergedFrom = nil
    traced.trace.mergedFrom = nil
    reduced.trace.mergedFrom = nil
    #expect(summaries == traced)
    #expect(reduced == traced)
    #expect(fromTraces.totals.exits == (0..<3).map { try! ExitReport.decode(Data(try! text(traces[$0] + ".json").utf8)).totals.exits }.reduce(0, +))
    // A text report of the merge says what it merged.
    try run(["report", "--by", "cpu", "-o", directory.path("merged.txt"), directory.path("a.hvt"), directory.path("b.hvt.json")])
    #expect(try text("merged.txt").contains("merged from 2 inputs: \(directory.path("a.hvt")), \(directory.path("b.hvt.json"))\n"))
}

@Test func reportRefusesSummariesOfAnotherGrouping() throws {
    let directory = TemporaryDirectory()
    defer { directory.cleanup() }
    var synth = try HVTraceCommand.parseAsRoot(["synth", "--events", "500", "--seed", "3", "-o", directory.path("t.hvt")])
    try synth.run()
    var summary = try HVTraceCommand.parseAsRoot(["report", directory.path("t.hvt"), "--format", "json", "-o", directory.path("t.json")])
    try summary.run()
    #expect(throws: AnalysisInputError.groupingDiffers(file: directory.path("t.json"), has: "reason", asked: "hvc")) {
        _ = try TraceAnalysis.mergedReport(paths: [directory.path("t.hvt"), directory.path("t.json")], grouping: .hvc)
    }
}

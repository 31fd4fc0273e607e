// Exact-output tests for the text, markdown and JSON renderings. Expected files live in
// Tests/Fixtures/good/analysis; run with UPDATE_SNAPSHOTS=1 to rewrite them after a deliberate change
// (and review the diff).

import Foundation
import Testing
@testable import HVTrace

let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/good/analysis")

func expectSnapshot(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = fixtureDirectory.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["UPDATE_SNAPSHOTS"] == "1" {
        try FileManager.default.createDirectory(at: fixtureDirectory, withIntermediateDirectories: true)
        try Data(actual.utf8).write(to: url)
        return
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(actual == expected, "snapshot \(name) differs", sourceLocation: sourceLocation)
}

/// A small fixed trace with one damaged exit, so every section of the output appears.
func snapshotEvents() -> [TimedEvent] {
    var events = SyntheticTrace.generate(seed: 1, cpus: 2, exits: 200).events
    let last = events.last!.timestamp
    events.append(TimedEvent(timestamp: last + 10, cpu: 0, event: .exitReturn))
    events.append(TimedEvent(timestamp: last + 20, cpu: 1, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 1)))
    return events
}

func snapshotReport(grouping: ReportGrouping = .reason) -> ExitReport {
    makeReport(events: snapshotEvents(), clockFrequency: 62_500_000, cpuCount: 2, grouping: grouping, source: "traces/snapshot.hvt")
}

@Test(arguments: [(OutputFormat.text, ReportGrouping.reason, "report.txt"), (.markdown, .reason, "report.md"),
                  (.text, .device, "report-by-device.txt"), (.json, .reason, "report.json")])
func reportOutputMatchesSnapshot(format: OutputFormat, grouping: ReportGrouping, name: String) throws {
    try expectSnapshot(try snapshotReport(grouping: grouping).rendered(as: format), named: name)
}

@Test func textReportFitsInHundredColumns() {
    for line in snapshotReport(grouping: .hvc).text().split(separator: "\n") { #expect(line.count <= 100, "\(String(line))") }
}

@Test func flameOutputMatchesSnapshot() throws {
    let graph = makeFlameGraph(events: snapshotEvents(), cpuCount: 2).0.graph
    try expectSnapshot(graph.tree(), named: "flame-tree.txt")
    try expectSnapshot(graph.tree(minPercent: 5), named: "flame-tree-min5.txt")
    try expectSnapshot(graph.folded(), named: "flame.folded")
    let slower = SyntheticTrace.generate(seed: 1, cpus: 2, exits: 200, scale: [.uartWrite: 1.5]).events
    try expectSnapshot(FlameDiff(base: graph, candidate: makeFlameGraph(events: slower, cpuCount: 2).0.graph).text(),
                       named: "flame-diff.txt")
}

@Test(arguments: [OutputFormat.text, .markdown])
func compareOutputMatchesSnapshot(format: OutputFormat) throws {
    let base = makeReport(events: SyntheticTrace.generate(seed: 1, cpus: 2, exits: 3_000).events, clockFrequency: 1_000_000_000, cpuCount: 2)
    let candidate = makeReport(events: SyntheticTrace.generate(seed: 2, cpus: 2, exits: 3_000, scale: [.uartWrite: 1.2]).events,
                               clockFrequency: 1_000_000_000, cpuCount: 2)
    let comparison = Comparison(base: base, candidate: candidate, baseName: "base.json", candidateName: "candidate.json")
    try expectSnapshot(try comparison.rendered(as: format), named: format == .text ? "compare.txt" : "compare.md")
    if format == .text {
        // Inputs for the command-line tests of `compare` on JSON summaries.
        try expectSnapshot(String(decoding: try base.jsonData(), as: UTF8.self), named: "compare-base.json")
        try expectSnapshot(String(decoding: try candidate.jsonData(), as: UTF8.self), named: "compare-candidate.json")
    }
}

/// The JSON schema (REPORT-SCHEMA.md): required keys and their JSON types.
@Test func reportJSONFollowsTheSchema() throws {
    let object = try #require(try JSONSerialization.jsonObject(with: try snapshotReport(grouping: .irq).jsonData()) as? [String: Any])
    #expect(object["schemaVersion"] as? Int == 1)
    #expect(Set(object.keys) == ["schemaVersion", "trace", "totals", "reasons", "grouping", "groups", "pairing", "diagnostics"])
    let trace = try #require(object["trace"] as? [String: Any])
    #expect(Set(trace.keys) == ["source", "clockFrequencyHz", "cpuCount", "events", "firstTimestamp", "lastTimestamp",
                                "durationTicks", "durationNs"])
    let totals = try #require(object["totals"] as? [String: Any])
    #expect(Set(totals.keys) == ["exits", "hypervisorTicks", "hypervisorNs", "exitsPerSecond"])
    #expect(object["grouping"] as? String == "irq")
    let rows = try #require(object["reasons"] as? [[String: Any]]) + (try #require(object["groups"] as? [[String: Any]]))
    #expect(!rows.isEmpty)
    for row in rows {
        #expect(Set(row.keys).isSuperset(of: ["reason", "count", "shareOfExits", "shareOfTime", "totalTicks", "ticks",
                                              "nanoseconds", "log2Histogram", "histogram"]))
        for unit in ["ticks", "nanoseconds"] {
            let summary = try #require(row[unit] as? [String: Any])
            #expect(Set(summary.keys) == ["min", "p50", "p90", "p99", "p999", "max", "mean"])
        }
        let histogram = try #require(row["histogram"] as? [String: Any])
        #expect(Set(histogram.keys) == ["buckets", "overflowCount", "max"])
        let buckets = try #require(histogram["buckets"] as? [[String: Any]])
        #expect(buckets.allSatisfy { Set($0.keys) == ["value", "count"] })
        let log2 = try #require(row["log2Histogram"] as? [[String: Any]])
        #expect(log2.allSatisfy { Set($0.keys) == ["lowNs", "highNs", "count"] })
    }
    let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
    #expect(diagnostics.allSatisfy { Set($0.keys) == ["name", "severity", "value", "description"] })
}

/// A report made from a file carries the encoding figures (REPORT-SCHEMA.md `encoding`): the decoded
/// pages and their record bytes, recounted here page by page, the file's size, and the line the text
/// and markdown renderings print. Reports of in-memory events have none.
@Test(arguments: ["one-cpu-mixed.hvt", "two-cpu-mixed.hvt", "forced-loss.hvt"])
func reportOfATraceFileCarriesItsEncodingFigures(name: String) throws {
    let path = fixtureDirectory.deletingLastPathComponent().appendingPathComponent(name).path
    let report = try TraceAnalysis.report(path: path)
    let encoding = try #require(report.encoding)
    var pages: UInt64 = 0, recordBytes: UInt64 = 0, events: UInt64 = 0
    let source = try PageSource(path: path)
    while let page = source.next() {
        pages += 1
        recordBytes += UInt64(page.bytes.count - PageHeaderLayout.size)
        _ = source.forEachEvent(in: page) { _ in events += 1 }
    }
    let fileBytes = UInt64(try Data(contentsOf: URL(fileURLWithPath: path)).count)
    #expect(pages > 0 && events > 0)
    #expect(encoding.pages == pages)
    #expect(encoding.recordBytes == recordBytes)
    #expect(encoding.pageHeaderBytes == 32 * pages)
    #expect(encoding.events == events)
    #expect(encoding.fileBytes == fileBytes)
    #expect(encoding.ringBytesPerEvent == Double(recordBytes + 32 * pages) / Double(events))
    #expect(encoding.recordBytesPerEvent == Double(recordBytes) / Double(events))
    #expect(encoding.fileBytesPerEvent == Double(fileBytes) / Double(events))
    let line = String(format: "%.2f ring bytes/event (%.2f records only, %llu pages), %.2f file bytes/event",
                      encoding.ringBytesPerEvent, encoding.recordBytesPerEvent, pages, encoding.fileBytesPerEvent)
    #expect(report.text().contains("\nencoding: \(line)\n"))
    #expect(report.markdown().contains("\n| encoding | \(line) |\n"))

    let object = try #require(try JSONSerialization.jsonObject(with: try report.jsonData()) as? [String: Any])
    let json = try #require(object["encoding"] as? [String: Any])
    #expect(Set(json.keys) == ["pages", "recordBytes", "pageHeaderBytes", "events", "fileBytes", "ringBytesPerEvent",
                               "recordBytesPerEvent", "fileBytesPerEvent"])
    #expect(try ExitReport.decode(try report.jsonData()).encoding == encoding, "the JSON round-trips")
    #expect(snapshotReport().encoding == nil)
}

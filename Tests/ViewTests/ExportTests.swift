// `hvtrace export`: each format read back by a real reader, which must reproduce the report.

import Foundation
import Testing
@testable import HVTrace

func exported(_ trace: String, _ format: ExportFormat, in directory: ScratchDirectory,
              options: ExportOptions = ExportOptions()) throws -> (path: String, report: ExitReport) {
    let input = repositoryRoot + "/" + trace
    let output = directory.path((trace as NSString).lastPathComponent + "." + format.rawValue)
    _ = try TraceExport.export(path: input, format: format, to: output, options: options)
    return (output, try TraceAnalysis.report(path: input))
}

/// DuckDB reads the CSV and reproduces report's count, exact tick sum, min, max and p50 per reason.
@Test(.enabled(if: TestReaders.pythonOrCI, TestReaders.missingPython), arguments: viewTraces)
func csvExportReadByDuckDBReproducesTheReport(trace: String) throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let (csv, report) = try exported(trace, .csv, in: directory)
    let (status, json) = try TestReaders.run("check_csv.py", [csv])
    #expect(status == 0)
    let result = try #require(json as? [String: Any])
    let columns = try #require(result["columns"] as? [[String]])
    #expect(columns.map { $0[0] } == ["time_ns", "cpu", "vcpu", "reason", "detail", "latency_ns", "latency_ticks"])
    #expect(columns.first { $0[0] == "latency_ticks" }?[1] == "BIGINT")
    let reasons = try #require(result["reasons"] as? [String: [String: Any]])
    #expect(Set(reasons.keys) == Set(report.reasons.map(\.reason)))
    for row in report.reasons {
        let duck = try #require(reasons[row.reason])
        #expect(duck["count"] as? Int == Int(row.count), "\(row.reason)")
        #expect(duck["sumTicks"] as? Int == Int(row.totalTicks), "\(row.reason)")
        #expect(duck["minTicks"] as? Int == Int(row.ticks.min), "\(row.reason)")
        #expect(duck["maxTicks"] as? Int == Int(row.ticks.max), "\(row.reason)")
        // DuckDB's quantile_disc is the exact nearest-rank median; report's is HdrHistogram's
        // bucket for it (3 significant digits: never below, at most 0.1 % above).
        let exact = try #require(duck["p50Ticks"] as? Int)
        #expect(Int(row.ticks.p50) >= exact && Double(Int(row.ticks.p50) - exact) <= Double(exact) / 1000, "\(row.reason) p50")
    }
}

/// Rows are in time order over all CPUs, times count from the first event, and the text is the
/// one the header names.
@Test func csvRowsAreInTimeOrder() throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let (csv, report) = try exported("traces/linux-boot.hvt", .csv, in: directory)
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    #expect(lines.first == "time_ns,cpu,vcpu,reason,detail,latency_ns,latency_ticks")
    #expect(lines.count == Int(report.totals.exits) + 1)
    var previous = -1.0
    var cpus = Set<Substring>()
    for line in lines.dropFirst() {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        #expect(fields.count == 7)
        let time = try #require(Double(fields[0]))
        #expect(time >= previous)
        previous = time
        cpus.insert(fields[1])
    }
    #expect(cpus == ["0", "1"])
    #expect(lines.contains { $0.hasSuffix(",HVC64,PSCI_VERSION,5174,5174") })
}

/// hdrhistogram's HistogramLogReader decodes every interval; summed per tag they hold report's
/// counts and percentiles (both HdrHistogram with 3 significant digits).
@Test(.enabled(if: TestReaders.pythonOrCI, TestReaders.missingPython), arguments: viewTraces)
func hlogExportReadByHdrHistogramReproducesTheReport(trace: String) throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    var options = ExportOptions()
    options.hlogIntervalSeconds = 0.05
    let (hlog, report) = try exported(trace, .hlog, in: directory, options: options)
    let (status, json) = try TestReaders.run("check_hlog.py", [hlog])
    #expect(status == 0)
    let tags = try #require(json as? [String: [String: Any]])
    #expect(Set(tags.keys) == Set(report.reasons.map(\.reason) + [""]))
    #expect(tags[""]?["count"] as? Int == Int(report.totals.exits))
    let scale = 1e9 / Double(report.trace.clockFrequencyHz)
    for row in report.reasons {
        let tag = try #require(tags[row.reason])
        #expect(tag["count"] as? Int == Int(row.count), "\(row.reason)")
        for (key, expected) in [("p50", row.nanoseconds.p50), ("p99", row.nanoseconds.p99), ("max", row.nanoseconds.max)] {
            let value = try #require(tag[key] as? Double ?? (tag[key] as? Int).map(Double.init))
            // Equivalent HdrHistogram buckets: within 0.1 % (plus one tick's worth of rounding).
            #expect(abs(value - expected) <= expected / 1000 + scale, "\(row.reason) \(key): hlog \(value), report \(expected)")
        }
    }
    // Intervals of 50 ms: the Linux boot spans many.
    if trace.hasSuffix("linux-boot.hvt") { #expect((tags[""]?["intervals"] as? Int ?? 0) > 20) }
}

/// The Chrome trace JSON follows the Trace Event Format (JSON Schema) and its nesting rules, has
/// one exit slice per paired exit, named tracks, counters, and instants where data was lost.
@Test(.enabled(if: TestReaders.pythonOrCI, TestReaders.missingPython), arguments: viewTraces)
func chromeExportFollowsTheTraceEventFormat(trace: String) throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let (path, report) = try exported(trace, .chrome, in: directory)
    let (status, json) = try TestReaders.run("check_chrome.py", [path])
    let summary = try #require(json as? [String: Any])
    #expect(status == 0, "\(summary["problems"] ?? "")")
    #expect((summary["problems"] as? [String])?.isEmpty == true)
    let exits = try #require(summary["exits"] as? [String: Int])
    #expect(exits == Dictionary(uniqueKeysWithValues: report.reasons.map { ($0.reason, Int($0.count)) }))
    let counters = try #require(summary["counters"] as? [String: Int])
    for cpu in 0..<report.trace.cpuCount { #expect(counters["cpu\(cpu) exits/s"] != nil, "cpu\(cpu)") }
    #expect(summary["displayTimeUnit"] as? String == "ns")
    let instants = summary["instants"] as? [String: Int] ?? [:]
    let unmatched = report.pairing.entriesFollowedByEntry + report.pairing.entriesCutByLostData + report.pairing.entriesOpenAtEnd
    let lostRecords = report.pairing.lostEvents > 0
    #expect((instants["data_loss"] ?? 0) >= Int(unmatched) + (lostRecords ? 1 : 0))
    if trace.hasSuffix("linux-boot.hvt") {
        #expect((summary["threads"] as? [String])?.contains("1/2=vm0/vcpu1") == true)
        #expect((summary["phases"] as? [String: Int])?["mmio"] == 1358)
    }
}

@Test func exportUnitsAreExactDecimals() {
    #expect(TickUnits.decimal(5174, frequency: 1_000_000_000, exponent: 9) == "5174")
    #expect(TickUnits.decimal(5174, frequency: 1_000_000_000, exponent: 6) == "5.174")
    #expect(TickUnits.decimal(3, frequency: 62_500_000, exponent: 9) == "48")
    #expect(TickUnits.decimal(1, frequency: 24_000_000, exponent: 9) == "41.667")
    #expect(TickUnits.decimal(.max, frequency: 1, exponent: 9) == "18446744073709551615000000000")
}

@Test func hdrEncodingMatchesTheReferenceGeometry() {
    // countsArrayIndex of HdrHistogram(1, …, 3): exact below 2048, then 1024 sub-buckets per octave.
    #expect(HdrGeometry.index(5) == 5)
    #expect(HdrGeometry.index(2047) == 2047)
    #expect(HdrGeometry.index(2048) == 2048)
    #expect(HdrGeometry.index(3000) == 2524)
    #expect(HdrGeometry.index(4096) == 3072)
    // A stored-block zlib stream of "abc" (Adler-32 0x024d0127).
    #expect(ZlibStored.wrap(Array("abc".utf8)) == [0x78, 0x01, 1, 3, 0, 0xFC, 0xFF, 0x61, 0x62, 0x63, 0x02, 0x4D, 0x01, 0x27])
    #expect(Base64.encode(Array("hvtrace".utf8)) == "aHZ0cmFjZQ==")
}

@Test func exportLeavesNothingOnBadInput() throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let output = directory.path("out.csv")
    #expect(throws: TraceFileError.self) {
        _ = try TraceExport.export(path: repositoryRoot + "/Tests/Fixtures/bad/not-a-trace.hvt", format: .csv, to: output)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
}

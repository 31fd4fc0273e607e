// `hvtrace snapshot` reading a region back from a RAM file, a raw dump at an offset, and an ELF core.

import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// Writes `region` into a new sparse file at `offset` after `prefix` bytes of something else.
func writeSnapshotFile(_ region: TestRegion, at offset: UInt64, prefix: [UInt8] = []) throws -> String {
    let path = NSTemporaryDirectory() + "hvtrace-snapshot-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    try #require(fd >= 0)
    defer { close(fd) }
    _ = prefix.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    #expect(pwrite(fd, region.base, region.length, off_t(offset)) == region.length)
    return path
}

/// A flight-recorder region after a "crash": 2 CPUs, overwrite mode, the host had consumed the first
/// pages, each CPU has an open page. Returns the region and the last number written per CPU.
func crashedRegion() -> (TestRegion, [UInt64]) {
    let region = TestRegion(mode: .overwrite, cpus: 2, pageSize: 256, pagesPerCPU: 8)
    var producers = [region.producer(cpu: 0), region.producer(cpu: 1)]
    let counts: [UInt64] = [1000, 250]
    for cpu in 0..<2 {
        for n in 0..<counts[cpu] { producers[cpu].record(numberedEvent(n), timestamp: 100 + n * 7) }
    }
    return (region, counts.map { $0 - 1 })
}

func numbersByCPU(_ pages: [CollectingPageSink.StoredPage]) throws -> [[UInt64]] {
    var numbers: [[UInt64]] = [[], []]
    for page in pages {
        try page.bytes.withUnsafeBytes { bytes in
            var decoder = try PageDecoder(bytes: bytes, pageSize: 256, cpuCount: 2)
            while let timed = try decoder.next() { if let n = number(of: timed.event) { numbers[page.cpu].append(n) } }
        }
    }
    return numbers
}

@Test("snapshot of a RAM file: unconsumed committed pages plus the open page, newest event last",
      arguments: [false, true])
func snapshotOfRAMFile(elf: Bool) throws {
    let (region, last) = crashedRegion()
    let path: String
    if elf {
        // A minimal ELF64 core like dump-guest-memory's: one PT_LOAD for RAM at PA 0x4000_0000, data at 0x1000.
        var elfHeader = [UInt8](repeating: 0, count: 0x1000)
        elfHeader.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1])
        func put(_ value: UInt64, at offset: Int, bytes: Int) {
            for i in 0..<bytes { elfHeader[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        put(0x40, at: 0x20, bytes: 8); put(56, at: 0x36, bytes: 2); put(2, at: 0x38, bytes: 2)
        put(4, at: 0x40, bytes: 4)                                   // PT_NOTE first, to be skipped
        let load = 0x40 + 56
        put(1, at: load, bytes: 4); put(0x1000, at: load + 8, bytes: 8)
        put(0x4000_0000, at: load + 24, bytes: 8); put(0x4000_0000, at: load + 32, bytes: 8)
        path = try writeSnapshotFile(region, at: 0x1000 + TraceRegion.ramFileOffset, prefix: elfHeader)
    } else {
        path = try writeSnapshotFile(region, at: TraceRegion.ramFileOffset)
    }
    defer { unlink(path) }
    let snapshot = try FlightRecorderSnapshot(path: path)
    #expect(snapshot.regionOffset == (elf ? 0x1000 : 0) + TraceRegion.ramFileOffset)
    var sink = CollectingPageSink()
    try snapshot.decode(into: &sink)
    let numbers = try numbersByCPU(sink.pages)
    for cpu in 0..<2 {
        #expect(numbers[cpu].last == last[cpu])
        #expect(isStrictlyIncreasing(numbers[cpu]))
        #expect(snapshot.consumer.counters[cpu].uncommittedPagesRecovered == 1)
    }
    // CPU 1 never wrapped: everything it wrote is there.
    #expect(numbers[1] == Array(0...last[1]))
    let lines = lastEventLines(sink.pages, header: region.header, count: 3)
    #expect(lines.count == 3)
    #expect(lines.last!.contains("cpu0") && lines.last!.contains("(uncommitted)"))
}

@Test("snapshot of a raw dump at an explicit offset, and the errors for a wrong one")
func snapshotOfRawDumpAtOffset() throws {
    let (region, last) = crashedRegion()
    let path = try writeSnapshotFile(region, at: 0x3000)
    defer { unlink(path) }
    let snapshot = try FlightRecorderSnapshot(path: path, layout: .raw(regionOffset: 0x3000))
    var sink = CollectingPageSink()
    try snapshot.decode(into: &sink)
    #expect(try numbersByCPU(sink.pages)[0].last == last[0])

    do {
        _ = try FlightRecorderSnapshot(path: path, layout: .raw(regionOffset: 0x2000))
        Issue.record("a wrong offset was accepted")
    } catch {
        #expect(error.description == "\(path) at offset 8192: trace region header: bad magic 0x0 at offset 0 (expected \"HVTRACE\\0\"): not a trace region")
    }
    do {
        _ = try FlightRecorderSnapshot(path: path, layout: .raw(regionOffset: 0x3000 + UInt64(region.length) - 100))
        Issue.record("a region past the end was accepted")
    } catch {
        #expect(error.description.contains("file ends at byte"))
    }
}

@Test("--include-consumed re-reads pages the host had already drained")
func snapshotIncludingConsumedPages() throws {
    let region = TestRegion(mode: .stopWhenFull, cpus: 1, pageSize: 256, pagesPerCPU: 8)
    var producer = region.producer()
    for n in 0..<UInt64(200) { producer.record(numberedEvent(n), timestamp: n) }
    let live = try RingConsumer(region: region.base, length: region.length)
    live.drain { _ in }
    let path = try writeSnapshotFile(region, at: TraceRegion.ramFileOffset)
    defer { unlink(path) }
    var onlyNew = CollectingPageSink(), everything = CollectingPageSink()
    try FlightRecorderSnapshot(path: path).decode(into: &onlyNew)
    try FlightRecorderSnapshot(path: path).decode(into: &everything, includeConsumed: true)
    #expect(onlyNew.pages.count == 1)  // just the open page
    #expect(try numbersByCPU(everything.pages)[0] == Array(0..<200))
}

// The QEMU-less path of the recording pipeline: a producer thread writes a region inside a real
// /dev/shm RAM file at the offset QEMU's RAM would put it, and the same drain loop `hvtrace record`
// runs empties it. Also: the RAM file disappears on every way out.

import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// A RAM file just big enough for a region at `TraceRegion.ramFileOffset`, with the header stored.
func makeRAMFileWithRegion(_ header: RegionHeader) throws -> SharedRAMFile {
    let file = try SharedRAMFile(size: Int(TraceRegion.ramFileOffset + header.regionSize))
    initializeTraceRegion(header, at: file.region)
    return file
}

/// Lets a Sendable closure write through the mapping.
struct SendablePointer: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

@Test("live drain of a /dev/shm RAM file: every event arrives, in order, with exact accounting",
      arguments: [RingMode.stopWhenFull, .overwrite])
func liveDrainFromSharedRAMFile(mode: RingMode) throws {
    let header = RegionHeader(clockFrequency: 62_500_000, clockSource: .genericCounter, mode: mode, cpuCount: 2,
                              pageSize: 4096, pagesPerCPU: 64, counterFrequency: 62_500_000)
    let file = try makeRAMFileWithRegion(header)
    let region = SendablePointer(pointer: file.region)
    let total: UInt64 = 500_000
    let finished = StopFlag()
    let producerThread = TestThread {
        var producers = (0..<2).map { RingProducer<TestPlatform>(region: region.pointer, layout: header, cpu: $0) }
        for n in 0..<total {
            for cpu in 0..<2 { producers[cpu].record(numberedEvent(n), timestamp: n * 3) }
        }
        for cpu in 0..<2 { producers[cpu].flush() }
        finished.set()
    }
    let consumer = try RingConsumer(region: file.region, length: file.regionLength)
    let drain = LiveDrain(consumer: consumer)
    var sink = CollectingPageSink()
    let start = Date()
    try drain.run(into: &sink, until: { finished.isSet })
    producerThread.join()
    try drain.finish(into: &sink, recoverOpenPages: true)
    let seconds = Date().timeIntervalSince(start)

    var numbers: [[UInt64]] = [[], []]
    for page in sink.pages {
        try page.bytes.withUnsafeBytes { bytes in
            var decoder = try PageDecoder(bytes: bytes, pageSize: 4096, cpuCount: 2)
            while let timed = try decoder.next() {
                if let n = number(of: timed.event) { numbers[page.cpu].append(n) }
            }
        }
    }
    for cpu in 0..<2 {
        let accounting = consumer.accounting(cpu: cpu)
        #expect(accounting.produced == total)
        #expect(accounting.decoded == UInt64(numbers[cpu].count))
        #expect(accounting.decoded + accounting.dropped + accounting.inLostPages == total)
        #expect(accounting.overcount == 0)
        #expect(isStrictlyIncreasing(numbers[cpu]))
        if mode == .stopWhenFull {
            #expect(accounting.inLostPages == 0)
            // Drops after the last page are the only ones no lostEvents record reports.
            #expect(total - 1 - numbers[cpu].last! == accounting.dropped - accounting.droppedReportedInTrace)
        } else {
            #expect(numbers[cpu].last == total - 1)
        }
        if mode == .overwrite { #expect(accounting.dropped == 0) }
    }
    let totals = consumer.totalCounters
    print("live drain (\(mode.name)): \(totals.pagesCopied) pages, \(totals.bytesCopied >> 20) MiB in \(seconds) s "
          + "= \(Int(Double(totals.pagesCopied) / seconds)) pages/s, \(Int(Double(totals.bytesCopied) / seconds / 1e6)) MB/s; "
          + "passes \(drain.statistics.passes), largest backlog \(drain.statistics.largestBacklog) pages, "
          + "dropped \(consumer.accounting(cpu: 0).dropped + consumer.accounting(cpu: 1).dropped), lost pages \(totals.pagesLost)")
}

@Test("drain throughput of a full ring (no concurrent producer)")
func drainThroughputOfFullRing() throws {
    let header = RegionHeader(clockFrequency: 62_500_000, clockSource: .genericCounter, mode: .overwrite, cpuCount: 2,
                              pageSize: 4096, pagesPerCPU: 1024, counterFrequency: 62_500_000)
    let file = try makeRAMFileWithRegion(header)
    var producers = (0..<2).map { RingProducer<TestPlatform>(region: file.region, layout: header, cpu: $0) }
    var n: UInt64 = 0
    while producers[1].sequence < 1024 {
        for cpu in 0..<2 { producers[cpu].record(numberedEvent(n), timestamp: n) }
        n += 1
    }
    let consumer = try RingConsumer(region: file.region, length: file.regionLength)
    var sink = CountingSink()
    let start = Date()
    let copied = try consumer.drain { try sink.append($0) }
    let seconds = Date().timeIntervalSince(start)
    // Page 1024 is open in page 0's slot, so page 0 of each CPU is gone.
    #expect(copied == 2046)
    #expect(consumer.totalCounters.pagesOverwrittenBeforeCopy == 2)
    print("drain of 2048 full 4 KiB pages: \(seconds * 1000) ms = \(Int(2048 / seconds)) pages/s, "
          + "\(Int(Double(consumer.totalCounters.bytesCopied) / seconds / 1e6)) MB/s, "
          + "\(Int(Double(consumer.totalCounters.decodedEvents) / seconds / 1e6)) M events/s (copy + validate + tally)")
}

/// Counts pages without keeping them.
struct CountingSink: TracePageSink {
    var pages = 0
    mutating func append(_ page: RingConsumer.Page) throws { pages += 1 }
}

struct DeliberateFailure: Error {}

@Test("the RAM file is removed on a normal end and when an error unwinds the scope; --keep-ram-file keeps it")
func ramFileIsRemovedOnEveryPath() throws {
    var path = ""
    do {
        let file = try SharedRAMFile(size: 1 << 20)
        path = file.path
        #expect(path.hasPrefix("/dev/shm/hvtrace-\(getpid())-"))
        #expect(file.existsOnDisk)
        #expect(CleanupRegistry.shared.registeredPaths.contains(path))
    }
    #expect(access(path, F_OK) != 0)
    #expect(!CleanupRegistry.shared.registeredPaths.contains(path))

    func failsHalfway() throws {
        let file = try SharedRAMFile(size: 1 << 20)
        path = file.path
        throw DeliberateFailure()
    }
    #expect(throws: DeliberateFailure.self) { try failsHalfway() }
    #expect(access(path, F_OK) != 0)

    do {
        let kept = try SharedRAMFile(size: 1 << 20, removeWhenDone: false)
        path = kept.path
    }
    #expect(access(path, F_OK) == 0)
    unlink(path)

    // The atexit path: a registered file is unlinked by removeAll even if no deinit runs.
    let leaked = try SharedRAMFile(size: 1 << 20)
    CleanupRegistry.shared.removeAll()
    #expect(!leaked.existsOnDisk)
}

@Test("the record pipeline without QEMU: live drain of /dev/shm into an .hvt file that reads back exactly")
func liveDrainIntoHVTFile() throws {
    let header = RegionHeader(clockFrequency: 62_500_000, clockSource: .genericCounter, mode: .stopWhenFull, cpuCount: 2,
                              // Room for every event even if this debug-build consumer falls behind.
                              pageSize: 4096, pagesPerCPU: 256, counterFrequency: 62_500_000,
                              buildIDHigh: 0xAB, buildIDLow: 0xCD)
    let file = try makeRAMFileWithRegion(header)
    let region = SendablePointer(pointer: file.region)
    let total: UInt64 = 100_000
    let finished = StopFlag()
    let producerThread = TestThread {
        var producers = (0..<2).map { RingProducer<TestPlatform>(region: region.pointer, layout: header, cpu: $0) }
        for n in 0..<total {
            for cpu in 0..<2 { producers[cpu].record(numberedEvent(n), timestamp: n * 3 + UInt64(cpu)) }
        }
        producers[0].flush()  // CPU 1 keeps its last page open: recovered as uncommitted
        finished.set()
    }
    let path = NSTemporaryDirectory() + "hvtrace-live-\(getpid()).hvt"
    defer { unlink(path) }
    let consumer = try RingConsumer(region: file.region, length: file.regionLength)
    let metadata = RecordingMetadata(guestName: "fake", buildIDHigh: 0xAB, buildIDLow: 0xCD, qemuCommandLine: "none")
    var output = try HVTFileOutput(path: path, region: consumer.header, metadata: metadata)
    let drain = LiveDrain(consumer: consumer)
    try drain.run(into: &output, until: { finished.isSet })
    producerThread.join()
    try drain.finish(into: &output, recoverOpenPages: true)
    let bytes = try output.finish(ringStates: (0..<2).map { consumer.ringState(cpu: $0) })
    #expect(bytes > 0)

    let source = try PageSource(path: path)
    #expect(source.header.guestName == "fake")
    #expect(source.header.buildID == "00000000000000ab00000000000000cd")
    var numbers: [[UInt64]] = [[], []]
    source.forEachEvent { timed in
        if let n = number(of: timed.event) { numbers[Int(timed.cpu)].append(n) }
    }
    #expect(source.reader.ringStates.count == 2)
    for cpu in 0..<2 {
        let accounting = consumer.accounting(cpu: cpu)
        #expect(isStrictlyIncreasing(numbers[cpu]))
        #expect(UInt64(numbers[cpu].count) == accounting.decoded + accounting.uncommitted)
        #expect(source.reader.ringStates[cpu].producedEvents == accounting.produced)
        #expect(accounting.decoded + accounting.dropped + accounting.inLostPages == accounting.produced)
        #expect(accounting.inLostPages == 0)
        #expect(accounting.dropped == 0)
    }
    // Every event CPU 1 recorded is in the file, the still-open page included.
    #expect(numbers[1].last == total - 1)
    #expect(consumer.accounting(cpu: 1).uncommitted > 0)
}

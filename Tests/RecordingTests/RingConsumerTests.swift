// The consumer against the real producer: concurrent draining, exact loss accounting in both modes,
// pages rewritten during the copy, and recovery of the open page.

import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// What a test saw in the pages the consumer delivered.
struct DeliveredPages {
    var sequences: [[UInt64]]
    var numbers: [[UInt64]]
    var lostReported: [UInt64]
    var flags: [UInt16] = []

    init(cpus: Int) {
        sequences = Array(repeating: [], count: cpus)
        numbers = Array(repeating: [], count: cpus)
        lostReported = Array(repeating: 0, count: cpus)
    }

    mutating func add(_ page: RingConsumer.Page, header: RegionHeader) throws {
        sequences[page.cpu].append(page.sequence)
        var decoder = try PageDecoder(bytes: page.bytes, pageSize: Int(header.pageSize), cpuCount: Int(header.cpuCount))
        flags.append(decoder.header.flags)
        while let timed = try decoder.next() {
            if case let .lostEvents(count) = timed.event {
                lostReported[page.cpu] += count
            } else {
                numbers[page.cpu].append(try #require(number(of: timed.event)))
            }
        }
    }
}

/// Missing numbers in a strictly increasing list that should be 0..<total.
func missingCount(_ numbers: [UInt64], total: UInt64) -> UInt64 { total - UInt64(numbers.count) }

func isStrictlyIncreasing(_ numbers: [UInt64]) -> Bool { zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 } }

/// Runs a producer thread writing `total` numbered events per CPU while this thread drains, pausing
/// `consumerPause` between drains; then flushes, drains the rest and returns what was delivered.
func produceAndConsumeConcurrently(region: TestRegion, total: UInt64, consumerPause: TimeInterval)
    throws -> (RingConsumer, DeliveredPages)
{
    let consumer = try RingConsumer(region: region.base, length: region.length)
    var delivered = DeliveredPages(cpus: consumer.cpuCount)
    let finished = StopFlag()
    let producerThread = TestThread {
        let cpus = Int(region.header.cpuCount)
        var producers = (0..<cpus).map { region.producer(cpu: $0) }
        for n in 0..<total {
            for cpu in 0..<cpus { producers[cpu].record(numberedEvent(n), timestamp: n * 10) }
        }
        for cpu in 0..<cpus { producers[cpu].flush() }
        finished.set()
    }
    var failure: Error?
    while !finished.isSet {
        do { try consumer.drain { try delivered.add($0, header: region.header) } } catch { failure = error }
        if consumerPause > 0 { Thread.sleep(forTimeInterval: consumerPause) }
    }
    producerThread.join()
    try consumer.drain { try delivered.add($0, header: region.header) }
    if let failure { throw failure }
    return (consumer, delivered)
}

@Test("stop-when-full: produced = decoded + dropped exactly, fast and slow consumers",
      arguments: [0.0, 0.000_2])
func stopWhenFullAccountsForEveryEvent(consumerPause: TimeInterval) throws {
    let region = TestRegion(mode: .stopWhenFull, cpus: 2, pageSize: 256, pagesPerCPU: 4)
    let total: UInt64 = 200_000
    let (consumer, delivered) = try produceAndConsumeConcurrently(region: region, total: total, consumerPause: consumerPause)
    for cpu in 0..<2 {
        let accounting = consumer.accounting(cpu: cpu)
        #expect(accounting.produced == total)
        #expect(accounting.decoded + accounting.dropped == total)
        #expect(accounting.inLostPages == 0)
        #expect(accounting.overcount == 0)
        #expect(consumer.counters[cpu].pagesLost == 0)
        #expect(consumer.counters[cpu].corruptPages == 0)
        // The decoded events are the produced ones in order; the gaps are exactly the drops.
        #expect(isStrictlyIncreasing(delivered.numbers[cpu]))
        #expect(UInt64(delivered.numbers[cpu].count) == accounting.decoded)
        #expect(missingCount(delivered.numbers[cpu], total: total) == accounting.dropped)
        // Drops before a page are reported in it; only drops after the last page can be unreported.
        #expect(delivered.lostReported[cpu] == accounting.droppedReportedInTrace)
        #expect(accounting.droppedReportedInTrace <= accounting.dropped)
        #expect(delivered.sequences[cpu] == Array(0..<UInt64(delivered.sequences[cpu].count)))
    }
    if consumerPause > 0 {
        // A 4-page ring and a consumer that sleeps between drains must overflow.
        #expect(consumer.accounting(cpu: 0).dropped > 0)
    }
}

@Test("overwrite without a consumer keeps exactly the newest pages and counts the skipped ones")
func overwriteKeepsNewestPages() throws {
    let region = TestRegion(mode: .overwrite, cpus: 1, pageSize: 256, pagesPerCPU: 8)
    var producer = region.producer()
    let total: UInt64 = 10_000
    for n in 0..<total { producer.record(numberedEvent(n), timestamp: n) }
    producer.flush()
    let consumer = try RingConsumer(region: region.base, length: region.length)
    var delivered = DeliveredPages(cpus: 1)
    try consumer.drain { try delivered.add($0, header: region.header) }
    let state = consumer.ringState(cpu: 0)
    #expect(consumer.counters[0].pagesSkipped == state.producerSequence - 8)
    #expect(delivered.sequences[0] == Array((state.producerSequence - 8)..<state.producerSequence))
    // The newest events, contiguous, ending with the last one produced.
    let numbers = delivered.numbers[0]
    #expect(numbers.last == total - 1)
    #expect(numbers == Array((total - UInt64(numbers.count))..<total))
    let accounting = consumer.accounting(cpu: 0)
    #expect(accounting.produced == total)
    #expect(accounting.dropped == 0)
    #expect(accounting.inLostPages == total - UInt64(numbers.count))
}

@Test("overwrite with a slow concurrent consumer: newest kept, losses counted as pages")
func overwriteWithSlowConsumer() throws {
    let region = TestRegion(mode: .overwrite, cpus: 1, pageSize: 256, pagesPerCPU: 4)
    let total: UInt64 = 200_000
    let (consumer, delivered) = try produceAndConsumeConcurrently(region: region, total: total, consumerPause: 0.000_2)
    let numbers = delivered.numbers[0]
    #expect(isStrictlyIncreasing(numbers))
    #expect(numbers.last == total - 1)
    let accounting = consumer.accounting(cpu: 0)
    #expect(accounting.produced == total)
    #expect(accounting.decoded == UInt64(numbers.count))
    #expect(accounting.inLostPages == total - UInt64(numbers.count))
    #expect(accounting.inLostPages > 0)
    #expect(consumer.counters[0].pagesLost > 0)
    #expect(consumer.counters[0].corruptPages == 0)
    #expect(isStrictlyIncreasing(delivered.sequences[0]))
}

@Test("a page the producer reopens during the copy is detected by the sequence re-check and never delivered",
      arguments: [2, 3] as [UInt64])
func pageRewrittenDuringCopyIsDetected(reopenUpTo targetOpenSequence: UInt64) throws {
    let region = TestRegion(mode: .overwrite, cpus: 1, pageSize: 256, pagesPerCPU: 2)
    var producer = region.producer()
    var n: UInt64 = 0
    // Commit page 0 and leave page 1 open.
    while producer.sequence < 1 || n < 60 {
        producer.record(numberedEvent(n), timestamp: n)
        n += 1
    }
    let consumer = try RingConsumer(region: region.base, length: region.length)
    #expect(consumer.ringState(cpu: 0).producerSequence == 1)
    // While the consumer copies page 0, the producer wraps around and reopens its slot.
    consumer.afterCopyHook = { _, sequence in
        guard sequence == 0 else { return }
        while consumer.ringState(cpu: 0).openSequence < targetOpenSequence {
            producer.record(numberedEvent(n), timestamp: n)
            n += 1
        }
    }
    var delivered = DeliveredPages(cpus: 1)
    let copied = try consumer.drain { try delivered.add($0, header: region.header) }
    #expect(copied == 0)
    #expect(consumer.counters[0].pagesTornDuringCopy == 1)
    #expect(delivered.sequences[0].isEmpty)
    // Later pages still drain normally.
    consumer.afterCopyHook = nil
    try consumer.drain { try delivered.add($0, header: region.header) }
    #expect(delivered.sequences[0].allSatisfy { $0 >= 1 })
    #expect(isStrictlyIncreasing(delivered.numbers[0]))
}

@Test("the open page is recovered once the producer stops, flagged uncommitted, outside `produced`")
func openPageIsRecovered() throws {
    let region = TestRegion(mode: .stopWhenFull, cpus: 1, pageSize: 256, pagesPerCPU: 4)
    var producer = region.producer()
    for n in 0..<UInt64(100) { producer.record(numberedEvent(n), timestamp: n) }
    let consumer = try RingConsumer(region: region.base, length: region.length)
    var delivered = DeliveredPages(cpus: 1)
    try consumer.drain { try delivered.add($0, header: region.header) }
    let committedCount = delivered.numbers[0].count
    let recovered = try consumer.recoverOpenPages { try delivered.add($0, header: region.header) }
    #expect(recovered == 1)
    #expect(delivered.numbers[0] == Array(0..<100))
    #expect(delivered.flags.last.map { $0 & PageFlags.uncommitted != 0 } == true)
    let accounting = consumer.accounting(cpu: 0)
    #expect(accounting.uncommitted == UInt64(100 - committedCount))
    #expect(accounting.decoded == UInt64(committedCount))
    #expect(accounting.produced == UInt64(committedCount))
    // Recovering again finds the same page: the caller decides when (only once, at the end).
    #expect(consumer.ringState(cpu: 0).consumerSequence == consumer.ringState(cpu: 0).producerSequence)
}

@Test("an open page ending in a record that does not decode yields only the records before it")
func openPageCutMidRecord() throws {
    let region = TestRegion(mode: .overwrite, cpus: 1, pageSize: 256, pagesPerCPU: 4)
    var producer = region.producer()
    for n in 0..<UInt64(5) { producer.record(.guestMarker(id: 1, value: n + 1000), timestamp: n) }
    // Garbage after the last whole record: an extension record whose length runs past the page.
    let page = region.base + region.header.pageOffset(cpu: 0, sequence: 0)
    var records = RecordDecoder(base: page + PageHeaderLayout.size, length: 256 - PageHeaderLayout.size)
    while try records.next() != nil {}
    let end = PageHeaderLayout.size + records.offset
    for (i, byte) in [EventID.firstExtensionID, 0, 0x7F] .enumerated() {
        page.storeBytes(of: byte, toByteOffset: end + i, as: UInt8.self)
    }
    let consumer = try RingConsumer(region: region.base, length: region.length)
    var values: [UInt64] = []
    try consumer.recoverOpenPages { page in
        var decoder = try PageDecoder(bytes: page.bytes, pageSize: 256, cpuCount: 1)
        while let timed = try decoder.next() {
            if case let .guestMarker(_, value) = timed.event { values.append(value) }
        }
    }
    #expect(values == [1000, 1001, 1002, 1003, 1004])
}

/// The error `RingConsumer.init` throws for `length` mapped bytes of `region`, nil if none.
func consumerError(_ region: TestRegion, length: Int) -> RecordingError? {
    do {
        _ = try RingConsumer(region: region.base, length: length)
        return nil
    } catch {
        return error
    }
}

@Test func regionHeaderIsValidated() {
    let region = TestRegion(mode: .overwrite)
    #expect(consumerError(region, length: region.length) == nil)
    #expect(consumerError(region, length: region.length - 1)?.description
            == "trace region of \(region.length) bytes does not fit the \(region.length - 1) mapped bytes (limit 33554432); is the offset right?")
    region.base.storeBytes(of: 0 as UInt64, toByteOffset: RegionHeaderLayout.regionSize, as: UInt64.self)
    #expect(consumerError(region, length: region.length)?.description.contains("region size at offset 56 is 0 bytes") == true)
    region.base.storeBytes(of: 0 as UInt64, toByteOffset: 0, as: UInt64.self)
    #expect(consumerError(region, length: region.length)?.description
            == "trace region header: bad magic 0x0 at offset 0 (expected \"HVTRACE\\0\"): not a trace region")
}

// Test support: a host platform for `RingProducer` (the hypervisor's producer code) and a region in
// ordinary memory, so tests run the real producer against the real consumer on two threads.

import Foundation
import Synchronization
import TraceFormat

/// Barriers as C11 fences (the hypervisor uses `dmb ishst` / `dmb ishld`); a monotonically increasing
/// counter stands in for CNTPCT_EL0.
enum TestPlatform: TracePlatform {
    static let ticks = Atomic<UInt64>(0)
    static func storeBarrier() { atomicMemoryFence(ordering: .releasing) }
    static func loadBarrier() { atomicMemoryFence(ordering: .acquiring) }
    static func counterNow() -> UInt64 { ticks.add(1, ordering: .relaxed).newValue }
}

/// A trace region in page-aligned memory owned by the test.
final class TestRegion: @unchecked Sendable {
    let header: RegionHeader
    let base: UnsafeMutableRawPointer
    let length: Int

    init(mode: RingMode, cpus: UInt16 = 1, pageSize: UInt32 = 256, pagesPerCPU: UInt32 = 8) {
        header = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: mode, cpuCount: cpus,
                              pageSize: pageSize, pagesPerCPU: pagesPerCPU, counterFrequency: 62_500_000,
                              buildIDHigh: 0x0123_4567_89AB_CDEF, buildIDLow: 0xFEDC_BA98_7654_3210)
        length = Int(header.regionSize)
        base = .allocate(byteCount: length, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        initializeTraceRegion(header, at: base)
    }

    deinit { base.deallocate() }

    func producer(cpu: Int = 0) -> RingProducer<TestPlatform> {
        RingProducer(region: base, layout: header, cpu: cpu)
    }
}

/// The event a test producer writes for its `n`-th event: a guest marker carrying `n`, so gaps in
/// the decoded values show exactly which events were lost; every 4th event is an exit entry whose
/// ISS carries `n` instead.
func numberedEvent(_ n: UInt64) -> TraceEvent {
    n % 4 == 3 ? .exitEntry(ec: 0x16, iss: UInt32(n & 0x1FF_FFFF), vcpu: 0) : .guestMarker(id: 1, value: n)
}

/// The number `numberedEvent` put into an event.
func number(of event: TraceEvent) -> UInt64? {
    switch event {
    case let .guestMarker(_, value): return value
    case let .exitEntry(_, iss, _): return UInt64(iss)
    default: return nil
    }
}

/// Runs `body` on a new thread; `join()` waits for it.
final class TestThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func join() { done.wait() }
}

/// A flag one thread sets and another polls.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

// A stand-in for QEMU + hypervisor that writes a live trace region into the RAM file named on a QEMU
// command line, with the hypervisor's own `RingProducer`, from another process. It lets `hvtrace
// record --qemu <script>` run the whole pipeline (process boundary, shared mapping, signals, .hvt
// writing) before the real hypervisor writes traces, and measures the drain at a chosen event rate.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TraceFormat
import HypervisorModel

/// Barriers as C11 fences, CLOCK_MONOTONIC in 16 ns ticks (62.5 MHz, QEMU virt's CNTFRQ) as the counter.
public enum HostTracePlatform: TracePlatform {
    public static func storeBarrier() { atomicMemoryFence(ordering: .releasing) }
    public static func loadBarrier() { atomicMemoryFence(ordering: .acquiring) }
    public static func counterNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return (UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)) / 16
    }
}

/// What the fake hypervisor does.
public struct FakeHypervisorOptions: Sendable {
    public var cpus = 2
    public var mode = RingMode.stopWhenFull
    public var pagesPerCPU: UInt32 = TraceRegion.defaultPagesPerCPU
    /// Exits per CPU in total (each: entry, hypercall, result, span enter/leave, return = 6 events).
    public var exitsPerCPU: UInt64 = 100_000
    /// Exits per second per CPU (0: as fast as possible).
    public var exitsPerSecond: Double = 0
    /// Exit status after powering off (0 = like a guest SYSTEM_OFF).
    public var exitStatus: Int32 = 0
    /// Keep the last page open at the end instead of flushing (a crash).
    public var skipFinalFlush = false
    public init() {}
}

/// Plays the hypervisor's part on a RAM file.
public enum FakeHypervisor {
    /// Finds `mem-path=` in QEMU arguments.
    public static func ramFilePath(inQEMUArguments arguments: [String]) -> String? {
        for argument in arguments where argument.hasPrefix("memory-backend-file,") {
            for field in argument.split(separator: ",") where field.hasPrefix("mem-path=") {
                return String(field.dropFirst("mem-path=".count))
            }
        }
        return nil
    }

    /// Maps `ramFile`, initialises the region (magic last, as the hypervisor must), produces the events
    /// on one thread per CPU, flushes and returns the events produced per CPU.
    public static func run(ramFile: String, options: FakeHypervisorOptions) throws(RecordingError) -> [UInt64] {
        let fd = open(ramFile, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .ramFile(path: ramFile, operation: "open", errno: errno) }
        defer { close(fd) }
        let header = RegionHeader(clockFrequency: 62_500_000, clockSource: .genericCounter, mode: options.mode,
                                  cpuCount: UInt16(options.cpus), pagesPerCPU: options.pagesPerCPU,
                                  counterFrequency: 62_500_000, buildIDHigh: 0xFA4E, buildIDLow: 0x1)
        let needed = Int(TraceRegion.ramFileOffset + header.regionSize)
        guard let mapped = mmap(nil, needed, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw .ramFile(path: ramFile, operation: "mmap", errno: errno)
        }
        defer { munmap(mapped, needed) }
        let region = mapped + Int(TraceRegion.ramFileOffset)
        // Everything but the magic, a barrier, then the magic: a consumer that sees the magic sees a
        // complete header.
        initializeTraceRegion(header, at: region)
        region.storeBytes(of: 0 as UInt64, toByteOffset: RegionHeaderLayout.magic, as: UInt64.self)
        HostTracePlatform.storeBarrier()
        region.storeBytes(of: RegionHeader.magicValue.littleEndian, toByteOffset: RegionHeaderLayout.magic, as: UInt64.self)

        let base = UInt(bitPattern: region)
        let work = (0..<options.cpus).map { FakeCPUWork(region: base, header: header, cpu: $0, options: options) }
        var threads: [pthread_t] = []
        for cpuWork in work {
            var thread = pthread_t()
            pthread_create(&thread, nil, { argument in
                Unmanaged<FakeCPUWork>.fromOpaque(argument!).takeUnretainedValue().run()
                return nil
            }, Unmanaged.passUnretained(cpuWork).toOpaque())
            threads.append(thread)
        }
        for thread in threads { pthread_join(thread, nil) }
        // The end status the real hypervisor leaves before SYSTEM_OFF (RunEndStatus).
        let state: RunEndState = options.exitStatus == 0 && !options.skipFinalFlush ? .guestPoweredOff : .hypervisorPanic
        writeRunEndStatus(state, intoRAMFileMapping: mapped)
        return work.map(\.produced)
    }

    /// Writes the end-status block into a mapping of the RAM file (from its start).
    public static func writeRunEndStatus(_ state: RunEndState, intoRAMFileMapping base: UnsafeMutableRawPointer) {
        let block = base + Int(RunEndStatus.ramFileOffset)
        block.storeBytes(of: UInt32(state.rawValue).littleEndian, toByteOffset: RunEndStatus.stateOffset, as: UInt32.self)
        HostTracePlatform.storeBarrier()
        block.storeBytes(of: RunEndStatus.magic.littleEndian, toByteOffset: RunEndStatus.magicOffset, as: UInt64.self)
    }
}

/// One CPU's producer loop.
final class FakeCPUWork: @unchecked Sendable {
    let region: UInt
    let header: RegionHeader
    let cpu: Int
    let options: FakeHypervisorOptions
    /// Events produced, set when `run` ends (read after the thread is joined).
    var produced: UInt64 = 0

    init(region: UInt, header: RegionHeader, cpu: Int, options: FakeHypervisorOptions) {
        self.region = region
        self.header = header
        self.cpu = cpu
        self.options = options
    }

    func run() {
        var producer = RingProducer<HostTracePlatform>(region: UnsafeMutableRawPointer(bitPattern: region)!, layout: header, cpu: cpu)
        let start = HostTracePlatform.counterNow()
        let ticksPerExit = options.exitsPerSecond > 0 ? 62_500_000 / options.exitsPerSecond : 0
        var now = start
        for exit in 0..<options.exitsPerCPU {
            if ticksPerExit > 0 {
                let due = start + UInt64(Double(exit) * ticksPerExit)
                while true {
                    now = HostTracePlatform.counterNow()
                    if now >= due { break }
                    if due - now > 62_500 { usleep(500) }
                }
            } else {
                now = HostTracePlatform.counterNow()
            }
            producer.record(.exitEntry(ec: 0x16, iss: 0, vcpu: UInt16(cpu)), timestamp: now)
            producer.record(.hypercall(conduit: .hvc, immediate: 0, functionID: 0xC600_0001), timestamp: now + 10)
            producer.record(.spanEnter(phase: HandlerPhase.hypercall.rawValue), timestamp: now + 12)
            producer.record(.spanLeave(phase: HandlerPhase.hypercall.rawValue), timestamp: now + 30)
            producer.record(.hypercallResult(0), timestamp: now + 31)
            producer.record(.exitReturn, timestamp: now + 40)
        }
        if !options.skipFinalFlush { producer.flush() }
        produced = producer.producedEvents
    }
}

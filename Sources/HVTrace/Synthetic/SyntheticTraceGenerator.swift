// Synthetic .hvt traces with known answers: exits drawn from known latency distributions, recorded
// through `RingProducer` (the hypervisor's own encoder) into a real region, drained page by page by
// `RegionDrainer` into a `TraceFileWriter`. The ground truth is computed from the plan, not by
// decoding the file, so tests of the decoder and the analyses compare against independent numbers.

#if canImport(Foundation)
import Foundation
#endif

/// What to generate.
public struct SyntheticTraceOptions: Sendable {
    /// Stop once at least this many events were handed to the producers.
    public var events: Int = 100_000
    public var seed: UInt64 = 1
    public var cpus: Int = 2
    /// Exit kinds with relative weights.
    public var mix: [(SyntheticExitKind, Double)] = SyntheticExitKind.defaultMix
    /// Record clock: QEMU virt's generic counter runs at 62.5 MHz.
    public var clockFrequency: UInt64 = 62_500_000
    public var clockSource: ClockSource = .genericCounter
    public var pageSize: UInt32 = TraceRegion.defaultPageSize
    public var pagesPerCPU: UInt32 = 64
    /// Simulated time between two drains by the consumer, in nanoseconds. Large values with few
    /// pages per CPU make the ring overflow: forced loss (`lost_events` records).
    public var drainIntervalNanoseconds: UInt64 = 1_000_000
    /// Latency multipliers per kind (absent = 1): a candidate with one exit kind made slower by a
    /// known factor, for regression tests of `compare` and the performance gate. The random stream
    /// is the same as without it, so only the scaled kind's latencies (and later timestamps) move.
    public var latencyScale: [SyntheticExitKind: Double] = [:]
    /// Guest run time between exits.
    public var guestRun: LatencyDistribution = .logNormal(medianNanoseconds: 15_000, sigma: 0.9)
    /// Flip one byte in the records of every N-th drained page (0 = never): corruption tests.
    public var corruptEveryNthPage: Int = 0
    public var compressionLevel: Int32 = TraceFileWriter.defaultCompressionLevel
    /// Stream bytes per zstd frame (`TraceFileWriter.frameTarget`).
    public var frameTarget = TraceFileWriter.defaultFrameTarget
    public var guestName = "synthetic"
    /// Host time written to the header (fixed by default so the same seed gives the same bytes).
    public var hostTimeNanoseconds: UInt64 = 1_767_225_600_000_000_000

    public init() {}

    /// Parses `kind=weight,kind=weight` (e.g. `hvc=10,irq=30`).
    public static func parseMix(_ text: String) -> [(SyntheticExitKind, Double)]? {
        var mix: [(SyntheticExitKind, Double)] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard let kind = SyntheticExitKind(rawValue: String(parts[0])) else { return nil }
            let weight = parts.count == 2 ? Double(parts[1]) : 1
            guard let weight, weight >= 0, weight.isFinite else { return nil }
            mix.append((kind, weight))
        }
        return mix.isEmpty || mix.allSatisfy({ $0.1 == 0 }) ? nil : mix
    }
}

/// The exact answers for a generated trace. Times are record-clock ticks.
public struct SyntheticGroundTruth: Sendable {
    /// Per exit reason (`ExitReasonName`): exits whose entry and return were both recorded.
    public struct Reason: Sendable {
        /// Latencies (return − entry) in generation order.
        public var latencies: [UInt64] = []
        public var totalTicks: UInt64 = 0
        /// Exits of which only the entry or only the return was recorded (the other was dropped).
        public var unmatched = 0
        /// Exits dropped completely by a full ring.
        public var lostEntirely = 0
        public var count: Int { latencies.count }
    }

    public var reasons: [String: Reason] = [:]
    /// Folded stack ("HVC64;dispatch;hypercall;psci") → self time, over exits recorded completely.
    public var stackSelfTicks: [String: UInt64] = [:]
    /// Events handed to the producers (lost ones included).
    public var eventsProduced: UInt64 = 0
    /// Events the producers dropped (ring full).
    public var eventsLost: UInt64 = 0
    /// Exits with at least one event dropped (excluded from `stackSelfTicks`).
    public var exitsWithLoss = 0
    public var pagesWritten: UInt64 = 0
    /// Record bytes in the written pages (page headers excluded).
    public var recordBytes: UInt64 = 0
    /// Uncompressed .hvt stream bytes and file bytes on disk.
    public var streamBytes: UInt64 = 0
    public var fileBytes: UInt64 = 0
    /// Pages the corruption option altered.
    public var corruptedPages = 0
    public var firstTimestamp: UInt64 = 0
    public var lastTimestamp: UInt64 = 0

    /// Events in the file (lost_events bookkeeping records excluded).
    public var eventsRecorded: UInt64 { eventsProduced - eventsLost }
}

/// Host stand-in for the hypervisor platform when the host itself produces a trace (synthetic
/// traces, `hvtrace import`): no barriers needed within one process, and the page counter comes
/// from the producer's own clock (per thread, so parallel tests don't mix).
enum HostRingPlatform: TracePlatform {
    static let counterKey = "hvtrace.host-ring.counter"
    static func storeBarrier() {}
    static func loadBarrier() {}
    static func counterNow() -> UInt64 {
        #if canImport(Foundation)
        return Thread.current.threadDictionary[counterKey] as? UInt64 ?? 0
        #else
        return 0
        #endif
    }

    static func setCounter(_ value: UInt64) {
        #if canImport(Foundation)
        Thread.current.threadDictionary[counterKey] = value
        #endif
    }
}

/// Generates synthetic traces.
public enum SyntheticTraceGenerator {
    /// QEMU virt's CNTFRQ: the page headers' counter frequency.
    public static let counterFrequency: UInt64 = 62_500_000

    /// Writes a trace to `path` and returns its ground truth.
    public static func generate(to path: String, options: SyntheticTraceOptions) throws(TraceFileError) -> SyntheticGroundTruth {
        precondition(options.cpus >= 1 && options.cpus <= RegionHeaderLayout.maximumCPUs(headerSize: RegionHeader.size))
        var random = Xoshiro256StarStar(seed: options.seed)
        let layout = RegionHeader(clockFrequency: options.clockFrequency, clockSource: options.clockSource, mode: .stopWhenFull,
                                  cpuCount: UInt16(options.cpus), pageSize: options.pageSize, pagesPerCPU: options.pagesPerCPU,
                                  counterFrequency: counterFrequency, buildIDHigh: 0x5359_4E54_4845_5449, buildIDLow: options.seed)
        let mixText = options.mix.map { "\($0.0.rawValue)=\(formatWeight($0.1))" }.joined(separator: ",")
        let header = TraceFileHeader(region: layout, guestName: options.guestName, buildID: "synthetic-\(options.seed)",
                                     hostTimeNanoseconds: options.hostTimeNanoseconds, qemuCommandLine: "",
                                     extra: [MetadataEntry(key: "generator", value: "hvtrace synth"),
                                             MetadataEntry(key: "seed", value: String(options.seed)),
                                             MetadataEntry(key: "mix", value: mixText)])
        let writer = try TraceFileWriter(path: path, header: header, compressionLevel: options.compressionLevel,
                                         frameTarget: options.frameTarget)
        let region = UnsafeMutableRawPointer.allocate(byteCount: Int(layout.regionSize), alignment: 4096)
        defer { region.deallocate() }
        initializeTraceRegion(layout, at: region)
        var producers = (0..<options.cpus).map { RingProducer<HostRingPlatform>(region: region, layout: layout, cpu: $0) }
        let drainer = RegionDrainer(region: region, layout: layout)
        var truth = SyntheticGroundTruth()

        let ticksPerNanosecond = Double(options.clockFrequency) / 1e9
        func ticks(_ nanoseconds: Double) -> UInt64 { max(1, UInt64((nanoseconds * ticksPerNanosecond).rounded())) }
        let start: UInt64 = 1_000_000
        truth.firstTimestamp = .max
        var nextExit = (0..<options.cpus).map { _ in start + ticks(options.guestRun.sample(&random)) }
        let drainInterval = max(1, ticks(Double(options.drainIntervalNanoseconds)))
        var nextDrain = start + drainInterval
        let totalWeight = options.mix.reduce(0) { $0 + $1.1 }
        var drainedPages = 0

        func corrupt(_ page: UnsafeMutableRawBufferPointer, _ cpu: Int, _ sequence: UInt64) {
            drainedPages += 1
            guard options.corruptEveryNthPage > 0, drainedPages % options.corruptEveryNthPage == 0 else { return }
            let used = Int(PageHeader.load(from: page.baseAddress!).usedBytes)
            guard used > 0 else { return }
            let offset = PageHeaderLayout.size + Int(random.below(UInt64(used)))
            page[offset] ^= UInt8(1 + random.below(255))
            truth.corruptedPages += 1
        }

        while truth.eventsProduced < UInt64(options.events) {
            // The CPU whose next exit comes first.
            var cpu = 0
            for candidate in 1..<options.cpus where nextExit[candidate] < nextExit[cpu] { cpu = candidate }
            let entry = nextExit[cpu]
            while entry >= nextDrain {
                try drainer.drain(into: writer, inspect: corrupt)
                try writer.writeWatermark(drainer.watermark(now: nextDrain))
                nextDrain += drainInterval
            }
            // Pick the kind, its events and its timing.
            var roll = random.unit() * totalWeight
            var kind = options.mix[0].0
            for (candidate, weight) in options.mix {
                if roll < weight { kind = candidate; break }
                roll -= weight
            }
            let events = kind.events(vcpu: UInt16(cpu), random: &random)
            let latency = ticks(kind.latency.sample(&random) * (options.latencyScale[kind] ?? 1))
            let stamps = timestamps(kind: kind, eventCount: events.count, entry: entry, latency: latency, random: &random)

            HostRingPlatform.setCounter(entry * counterFrequency / options.clockFrequency)
            var recorded = [Bool](repeating: true, count: events.count)
            for (index, event) in events.enumerated() {
                let lostBefore = producers[cpu].lostEvents
                producers[cpu].record(event, timestamp: stamps[index])
                recorded[index] = producers[cpu].lostEvents == lostBefore
            }
            truth.eventsProduced += UInt64(events.count)
            truth.firstTimestamp = min(truth.firstTimestamp, entry)
            truth.lastTimestamp = max(truth.lastTimestamp, entry + latency)
            account(kind: kind, events: events, stamps: stamps, recorded: recorded, into: &truth)
            nextExit[cpu] = entry + latency + ticks(options.guestRun.sample(&random))
        }
        for cpu in 0..<options.cpus { producers[cpu].flush() }
        try drainer.drain(into: writer, inspect: corrupt)
        for state in drainer.ringStates() { try writer.writeRingState(state) }
        truth.eventsLost = producers.reduce(0) { $0 + $1.lostEvents }
        try writer.close()
        truth.pagesWritten = writer.pagesWritten
        truth.streamBytes = writer.streamBytes
        truth.fileBytes = writer.fileBytes
        truth.recordBytes = writer.pageRecordBytes
        return truth
    }

    /// Spreads an exit's events over its latency like real handlers do: every step has a
    /// characteristic share of the exit's time (fixed per kind and position), plus one tick of jitter.
    private static func timestamps(kind: SyntheticExitKind, eventCount: Int, entry: UInt64, latency: UInt64,
                                   random: inout Xoshiro256StarStar) -> [UInt64] {
        let gaps = eventCount - 1
        var weights = [UInt64](repeating: 0, count: gaps)
        var seed = Xoshiro256StarStar(seed: UInt64(kind.exceptionClass) << 8 | UInt64(eventCount))
        for index in 0..<gaps { weights[index] = 1 + seed.below(8) }
        let total = weights.reduce(0, +)
        var stamps = [UInt64](repeating: entry, count: eventCount)
        var cumulative: UInt64 = 0
        for index in 1..<gaps {
            cumulative += weights[index - 1]
            let (high, low) = latency.multipliedFullWidth(by: cumulative)
            let nominal = total.dividingFullWidth((high, low)).quotient
            let jittered = min(latency, nominal + random.below(2))
            stamps[index] = max(stamps[index - 1], entry + jittered)
        }
        stamps[eventCount - 1] = entry + latency
        return stamps
    }

    /// Adds one exit to the ground truth: latency if entry and return were recorded, stack self
    /// times if everything was.
    private static func account(kind: SyntheticExitKind, events: [TraceEvent], stamps: [UInt64], recorded: [Bool],
                                into truth: inout SyntheticGroundTruth) {
        let reason = ExitReasonName.name(ec: kind.exceptionClass)
        if recorded.first! && recorded.last! {
            let latency = stamps.last! - stamps.first!
            truth.reasons[reason, default: .init()].latencies.append(latency)
            truth.reasons[reason, default: .init()].totalTicks += latency
        } else if recorded.first! || recorded.last! {
            truth.reasons[reason, default: .init()].unmatched += 1
        } else {
            truth.reasons[reason, default: .init()].lostEntirely += 1
        }
        guard recorded.allSatisfy({ $0 }) else {
            truth.exitsWithLoss += 1
            return
        }
        // Self time: each interval between consecutive events belongs to the innermost open frame.
        var stack = [reason]
        for index in 0..<(events.count - 1) {
            switch events[index] {
            case let .spanEnter(phase): stack.append(HandlerPhase(rawValue: phase).map { "\($0.name)" } ?? "phase\(phase)")
            case .spanLeave: stack.removeLast()
            default: break
            }
            truth.stackSelfTicks[stack.joined(separator: ";"), default: 0] += stamps[index + 1] - stamps[index]
        }
    }

    private static func formatWeight(_ weight: Double) -> String {
        weight == weight.rounded() ? String(Int(weight)) : String(weight)
    }
}

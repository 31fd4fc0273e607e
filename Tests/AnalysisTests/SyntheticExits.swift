// In-memory event sequences with known ground truth: every latency and every folded-stack total is
// computed here, independently of the analysis code, from the shapes below.

import Foundation
import HVTrace

/// SplitMix64: a small seeded generator so every test input is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A log-normal latency around `median` ticks (σ of the underlying normal = `spread`), at least 10.
    mutating func logNormal(median: Double, spread: Double) -> UInt64 {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return max(10, UInt64(median * exp(spread * normal)))
    }
}

/// The exit shapes the generator writes; each knows its events and its folded stacks.
enum ExitShape: CaseIterable {
    case psciCPUOn, uartWrite, vtimerIRQ, wfi, sysregCNTV

    var reason: String {
        switch self {
        case .psciCPUOn: return "HVC64"
        case .uartWrite: return "DABT_LOW"
        case .vtimerIRQ: return "IRQ"
        case .wfi: return "WFI"
        case .sysregCNTV: return "SYS64"
        }
    }

    /// The `--by` label each shape should get for the grouping that applies to it.
    var detailLabel: String {
        switch self {
        case .psciCPUOn: return "CPU_ON"
        case .uartWrite: return "pl011"
        case .vtimerIRQ: return "virt_timer"
        case .wfi: return "-"
        case .sysregCNTV: return "CNTV_CTL_EL0"
        }
    }

    var medianTicks: Double {
        switch self {
        case .psciCPUOn: return 3_000
        case .uartWrite: return 1_200
        case .vtimerIRQ: return 800
        case .wfi: return 50_000
        case .sysregCNTV: return 400
        }
    }

    /// The events of one exit of latency `latency` starting at `start`, and the ticks each folded
    /// stack receives. Phase boundaries sit at fixed fractions of the latency.
    func events(start t: UInt64, latency: UInt64, vcpu: UInt16) -> (events: [(UInt64, TraceEvent)], folded: [(String, UInt64)]) {
        let a = t + latency / 10, b = t + latency / 5, c = t + latency * 7 / 10, d = t + latency * 9 / 10
        let end = t + latency
        let root = reason
        switch self {
        case .psciCPUOn:
            return ([(t, .exitEntry(ec: 0x16, iss: 0, vcpu: vcpu)),
                     (a, .spanEnter(phase: HandlerPhase.hypercall.rawValue)),
                     (a, .hypercall(conduit: .hvc, immediate: 0, functionID: 0xC400_0003)),
                     (b, .spanEnter(phase: HandlerPhase.psci.rawValue)),
                     (c, .spanLeave(phase: HandlerPhase.psci.rawValue)),
                     (d, .spanLeave(phase: HandlerPhase.hypercall.rawValue)),
                     (d, .hypercallResult(0)),
                     (end, .exitReturn)],
                    [(root, (a - t) + (end - d)), ("\(root);hypercall;CPU_ON", (b - a) + (d - c)),
                     ("\(root);hypercall;psci", c - b)])
        case .uartWrite:
            let access = AccessInfo(sizeLog2: 2, isWrite: true)
            return ([(t, .exitEntry(ec: 0x24, iss: 0x0180_0046, vcpu: vcpu)),
                     (a, .spanEnter(phase: HandlerPhase.stage2Fault.rawValue)),
                     (a, .stage2Fault(ipa: 0x0900_0000, access: access, outcome: .emulatedMMIO)),
                     (b, .spanEnter(phase: HandlerPhase.mmioEmulation.rawValue)),
                     (b, .mmioAccess(device: MMIODevice.pl011.rawValue, offset: 0, access: access, value: 0x41)),
                     (c, .spanLeave(phase: HandlerPhase.mmioEmulation.rawValue)),
                     (d, .spanLeave(phase: HandlerPhase.stage2Fault.rawValue)),
                     (end, .exitReturn)],
                    [(root, (a - t) + (end - d)), ("\(root);stage2_fault", (b - a) + (d - c)),
                     ("\(root);stage2_fault;mmio;pl011", c - b)])
        case .vtimerIRQ:
            return ([(t, .exitEntry(ec: AsynchronousExit.irq.rawValue, iss: 0, vcpu: vcpu)),
                     (a, .spanEnter(phase: HandlerPhase.irqHandling.rawValue)),
                     (a, .physicalIRQ(intid: 27)),
                     (b, .spanEnter(phase: HandlerPhase.vgicInjection.rawValue)),
                     (b, .virtualIRQ(intid: 27, vcpu: vcpu)),
                     (c, .spanLeave(phase: HandlerPhase.vgicInjection.rawValue)),
                     (d, .spanLeave(phase: HandlerPhase.irqHandling.rawValue)),
                     (end, .exitReturn)],
                    [(root, (a - t) + (end - d)), ("\(root);irq;\(detailLabel)", (b - a) + (d - c)),
                     ("\(root);irq;vgic_inject", c - b)])
        case .wfi:
            return ([(t, .exitEntry(ec: 0x01, iss: 0, vcpu: vcpu)), (a, .waitForInterrupt(.wfi)), (end, .exitReturn)],
                    [(root, latency)])
        case .sysregCNTV:
            let encoding = SysregEncoding.make(op0: 3, op1: 3, crn: 14, crm: 3, op2: 1)
            // ISS for MRS CNTV_CTL_EL0 (Op0 21:20, Op2 19:17, Op1 16:14, CRn 13:10, CRm 4:1, read).
            let iss: UInt32 = (3 << 20) | (1 << 17) | (3 << 14) | (14 << 10) | (3 << 1) | 1
            return ([(t, .exitEntry(ec: 0x18, iss: iss, vcpu: vcpu)),
                     (a, .spanEnter(phase: HandlerPhase.sysreg.rawValue)),
                     (a, .sysregTrap(encoding: encoding, isWrite: false)),
                     (d, .spanLeave(phase: HandlerPhase.sysreg.rawValue)),
                     (end, .exitReturn)],
                    [(root, (a - t) + (end - d)), ("\(root);sysreg;CNTV_CTL_EL0", d - a)])
        }
    }
}

/// A generated trace and everything that is known about it.
struct SyntheticTrace {
    var events: [TimedEvent] = []
    /// Every latency per reason name.
    var latencies: [String: [UInt64]] = [:]
    /// Per reason, the `--by` detail label of each exit.
    var detailCounts: [String: [String: Int]] = [:]
    var folded: [String: UInt64] = [:]
    var totalTicks: UInt64 = 0
    var vcpuCounts: [UInt16: Int] = [:]

    /// `exits` exits per CPU, shapes drawn with the given weights, latencies log-normal around each
    /// shape's median times `scale[shape]` (default 1), gaps between exits 100…2000 ticks.
    static func generate(seed: UInt64, cpus: Int = 2, exits: Int,
                         weights: [ExitShape: Int] = [.psciCPUOn: 1, .uartWrite: 4, .vtimerIRQ: 3, .wfi: 1, .sysregCNTV: 2],
                         scale: [ExitShape: Double] = [:], spread: Double = 0.5) -> SyntheticTrace {
        var random = SeededGenerator(seed: seed)
        var trace = SyntheticTrace()
        let pool = ExitShape.allCases.flatMap { shape in Array(repeating: shape, count: weights[shape] ?? 0) }
        var perCPU: [[TimedEvent]] = Array(repeating: [], count: cpus)
        for cpu in 0..<cpus {
            var clock: UInt64 = 1_000 + UInt64(cpu) * 37
            for _ in 0..<exits {
                let shape = pool[Int(random.next() % UInt64(pool.count))]
                let latency = random.logNormal(median: shape.medianTicks * (scale[shape] ?? 1), spread: spread)
                let vcpu = UInt16(cpu)
                let (events, folded) = shape.events(start: clock, latency: latency, vcpu: vcpu)
                for (timestamp, event) in events {
                    perCPU[cpu].append(TimedEvent(timestamp: timestamp, cpu: UInt16(cpu), event: event))
                }
                trace.latencies[shape.reason, default: []].append(latency)
                trace.detailCounts[shape.reason, default: [:]][shape.detailLabel, default: 0] += 1
                trace.vcpuCounts[vcpu, default: 0] += 1
                for (stack, ticks) in folded where ticks > 0 { trace.folded[stack, default: 0] += ticks }
                trace.totalTicks += latency
                clock += latency + 100 + random.next() % 1_900
            }
        }
        // Interleave CPUs by time, as a merged stream would (pairing only needs per-CPU order).
        trace.events = perCPU.flatMap { $0 }.enumerated()
            .sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
            .map(\.element)
        return trace
    }
}

/// The exact nearest-rank percentile of `sorted` (1-based rank ⌈q·n⌉ with q in thousandths).
func exactPercentile(_ sorted: [UInt64], thousandths: Int) -> UInt64 {
    let rank = max(1, (thousandths * sorted.count + 999) / 1000)
    return sorted[rank - 1]
}

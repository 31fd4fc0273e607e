// The exits a synthetic trace is made of: what each one records (the same events, in the same
// nesting, as the hypervisor's handlers) and how long it takes.

/// One kind of synthetic exit, named as in `hvtrace synth --mix`.
public enum SyntheticExitKind: String, CaseIterable, Sendable {
    /// HVC64 from the guest: PSCI/SMCCC calls and trace markers.
    case hvc
    /// Data abort on the PL011 (UART output): stage-2 fault emulated as MMIO.
    case pl011
    /// Data abort on the GIC distributor: emulated by the vGIC (fast and slow register paths).
    case gicd
    /// Physical IRQ while the guest ran: mostly the virtual timer (INTID 27), injected back.
    case irq
    /// Trapped WFI: the vCPU blocks until an interrupt.
    case wfi
    /// Trapped MSR (HCR_EL2.TVM): constant-time system-register emulation.
    case sysreg

    /// The default mix, as weights.
    public static let defaultMix: [(SyntheticExitKind, Double)] =
        [(.hvc, 10), (.pl011, 15), (.gicd, 10), (.irq, 30), (.wfi, 20), (.sysreg, 15)]

    /// The exit reason (`exitEntry.ec`) this kind records.
    public var exceptionClass: UInt8 {
        switch self {
        case .hvc: return ExceptionClass.hvc64.rawValue
        case .pl011, .gicd: return ExceptionClass.dataAbortLower.rawValue
        case .irq: return AsynchronousExit.irq.rawValue
        case .wfi: return ExceptionClass.wfx.rawValue
        case .sysreg: return ExceptionClass.sysreg.rawValue
        }
    }

    /// Entry-to-return latency.
    public var latency: LatencyDistribution {
        switch self {
        case .hvc: return .logNormal(medianNanoseconds: 1_500, sigma: 0.25)
        case .pl011: return .logNormal(medianNanoseconds: 3_000, sigma: 0.35)
        case .gicd: return .bimodal(fast: 2_500, slow: 8_000, sigma: 0.2, fastWeight: 0.7)
        case .irq: return .logNormal(medianNanoseconds: 2_200, sigma: 0.3)
        case .wfi: return .logNormal(medianNanoseconds: 150_000, sigma: 0.8)
        case .sysreg: return .constant(nanoseconds: 900)
        }
    }

    /// The events of one exit, from exitEntry to exitReturn, with nested spans.
    func events(vcpu: UInt16, random: inout Xoshiro256StarStar) -> [TraceEvent] {
        func span(_ phase: HandlerPhase, _ inner: [TraceEvent]) -> [TraceEvent] {
            [.spanEnter(phase: phase.rawValue)] + inner + [.spanLeave(phase: phase.rawValue)]
        }
        func exit(iss: UInt32, _ inner: [TraceEvent]) -> [TraceEvent] {
            [.exitEntry(ec: exceptionClass, iss: iss, vcpu: vcpu)] + span(.dispatch, inner) + [.exitReturn]
        }
        switch self {
        case .hvc:
            let roll = random.below(10)
            if roll < 1 {
                let marker = UInt32(random.below(4))
                return exit(iss: 0, span(.hypercall, [.hypercall(conduit: .hvc, immediate: 0, functionID: TraceHypercall.guestMarker),
                                                      .guestMarker(id: marker, value: random.below(1 << 20)), .hypercallResult(0)]))
            }
            let (function, result): (UInt32, Int64) = switch roll {
            case 1...4: (0x8400_0000, 0x0001_0001)   // PSCI_VERSION → 1.1
            case 5...6: (0x8400_000A, 0)             // PSCI_FEATURES
            case 7: (0x8000_0000, 0x0001_0002)       // SMCCC_VERSION → 1.2
            default: (0xC400_0001, 0)                // CPU_SUSPEND
            }
            let psci = function & 0xBFFF_FFE0 == 0x8400_0000
            let call: [TraceEvent] = [.hypercall(conduit: .hvc, immediate: 0, functionID: function)]
                + (psci ? span(.psci, []) : []) + [.hypercallResult(result)]
            return exit(iss: 0, span(.hypercall, call))
        case .pl011:
            // ISS: ISV (24), SAS (23:22), SRT (20:16), WnR (6), DFSC 0b000111 (translation fault, level 3).
            let isWrite = random.below(5) != 0
            let offset: UInt32 = isWrite ? 0x000 : 0x018  // UARTDR write, UARTFR poll
            let sizeLog2: UInt8 = isWrite ? 0 : 2
            let srt = UInt32(random.below(31))
            let iss: UInt32 = (1 << 24) | (UInt32(sizeLog2) << 22) | (srt << 16) | (isWrite ? 1 << 6 : 0) | 0x07
            let access = AccessInfo(sizeLog2: sizeLog2, isWrite: isWrite)
            let value: UInt64 = isWrite ? 0x20 + random.below(0x5F) : 0x90
            return exit(iss: iss, span(.stage2Fault, [.stage2Fault(ipa: 0x0900_0000 + UInt64(offset), access: access, outcome: .emulatedMMIO)]
                                        + span(.mmioEmulation, [.mmioAccess(device: MMIODevice.pl011.rawValue, offset: offset, access: access, value: value)])))
        case .gicd:
            let registers: [(UInt32, Bool)] = [(0x000, false), (0x100, true), (0x180, true), (0x400, true), (0x800, false), (0xF00, true), (0x004, false)]
            let (offset, isWrite) = registers[Int(random.below(UInt64(registers.count)))]
            let srt = UInt32(random.below(31))
            let iss: UInt32 = (1 << 24) | (2 << 22) | (srt << 16) | (isWrite ? 1 << 6 : 0) | 0x07
            let access = AccessInfo(sizeLog2: 2, isWrite: isWrite)
            let value: UInt64 = isWrite ? random.below(1 << 16) : 0
            return exit(iss: iss, span(.stage2Fault, [.stage2Fault(ipa: 0x0800_0000 + UInt64(offset), access: access, outcome: .emulatedMMIO)]
                                        + span(.mmioEmulation, span(.vgicDistributor, [.mmioAccess(device: MMIODevice.gicDistributor.rawValue, offset: offset, access: access, value: value)]))))
        case .irq:
            let intid: UInt16 = random.below(10) == 0 ? 33 : 27
            let handler: [TraceEvent] = intid == 27 ? span(.timer, []) : []
            return exit(iss: 0, span(.irqHandling, [.physicalIRQ(intid: intid)] + handler
                                      + span(.vgicInjection, [.virtualIRQ(intid: intid, vcpu: vcpu)])))
        case .wfi:
            return exit(iss: 0, span(.wfx, [.waitForInterrupt(.wfi)] + span(.vcpuSwitch, [])))
        case .sysreg:
            let registers: [(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8)] =
                [(3, 0, 1, 0, 0), (3, 0, 2, 0, 0), (3, 0, 2, 0, 1), (3, 0, 2, 0, 2), (3, 0, 10, 2, 0), (3, 0, 13, 0, 1)]
            let r = registers[Int(random.below(UInt64(registers.count)))]
            let rt = UInt32(random.below(31))
            // ISS (EC 0x18): Op0 21:20, Op2 19:17, Op1 16:14, CRn 13:10, Rt 9:5, CRm 4:1, Direction 0 (0 = MSR).
            let iss = (UInt32(r.op0) << 20) | (UInt32(r.op2) << 17) | (UInt32(r.op1) << 14) | (UInt32(r.crn) << 10)
                | (rt << 5) | (UInt32(r.crm) << 1)
            let (encoding, isWrite) = SysregEncoding.fromISS(iss)
            return exit(iss: iss, span(.sysreg, [.sysregTrap(encoding: encoding, isWrite: isWrite)]))
        }
    }
}

// The event catalogue: every record kind the hypervisor writes, with stable ids.
//
// Rules (see FORMAT.md): ids are never reused or renumbered. Ids 1...63 are fixed-shape events whose
// fields every decoder of this major version knows. Ids 64...127 are extension events that carry a
// byte length after the timestamp delta, so an older decoder can skip them. Id 0 marks the end of
// the records in a page (pages are zeroed when opened). Ids 128...255 are invalid.
// Next free fixed-shape id: 15. Next free extension id: 65.

/// The one-byte id that starts every record.
public enum EventID: UInt8, CaseIterable, Sendable {
    /// A trap from EL1/EL0 into the hypervisor (fields: EC, ISS, vCPU).
    case exitEntry = 1
    /// The hypervisor is about to ERET back into the guest.
    case exitReturn = 2
    /// HVC or SMC dispatch (fields: conduit + immediate, SMCCC function id).
    case hypercall = 3
    /// The value a hypercall returned in x0 (signed).
    case hypercallResult = 4
    /// A stage-2 abort (fields: IPA, access, outcome).
    case stage2Fault = 5
    /// An emulated MMIO access (fields: device, offset, access, value).
    case mmioAccess = 6
    /// A physical interrupt taken at EL2 (field: INTID).
    case physicalIRQ = 7
    /// A virtual interrupt placed in a list register (fields: INTID, vCPU).
    case virtualIRQ = 8
    /// A trapped WFI or WFE (field: kind).
    case waitForInterrupt = 9
    /// A trapped MSR/MRS (field: system-register encoding with direction).
    case sysregTrap = 10
    /// A handler phase begins (field: phase id).
    case spanEnter = 11
    /// A handler phase ends (field: phase id).
    case spanLeave = 12
    /// A marker written by the guest through the marker hypercall (fields: id, value).
    case guestMarker = 13
    /// The producer dropped events before this point (field: count).
    case lostEvents = 14
    /// Extension event: the guest's PC at the exit whose `exitEntry` it follows (field: PC). Written
    /// by `hvtrace import` (KVM's kvm_exit carries the PC); older decoders skip it.
    case guestPC = 64

    /// The first id of the length-prefixed extension range.
    public static let firstExtensionID: UInt8 = 64
    /// One past the last valid id.
    public static let endOfValidIDs: UInt8 = 128
    /// The byte that ends the records in a page.
    public static let endOfRecords: UInt8 = 0

    /// The id for a record's id byte, nil for bytes that are not ids this decoder knows. Unlike the
    /// synthesized `init(rawValue:)` this is inlinable, so decoders in other modules compile it to
    /// one range check.
    @inlinable @inline(__always)
    public init?(validRawValue raw: UInt8) {
        switch raw {
        case 1: self = .exitEntry
        case 2: self = .exitReturn
        case 3: self = .hypercall
        case 4: self = .hypercallResult
        case 5: self = .stage2Fault
        case 6: self = .mmioAccess
        case 7: self = .physicalIRQ
        case 8: self = .virtualIRQ
        case 9: self = .waitForInterrupt
        case 10: self = .sysregTrap
        case 11: self = .spanEnter
        case 12: self = .spanLeave
        case 13: self = .guestMarker
        case 14: self = .lostEvents
        case 64: self = .guestPC
        default: return nil
        }
    }

    /// A short lowercase name used by `dump`, filters and reports.
    public var name: StaticString {
        switch self {
        case .exitEntry: return "exit_entry"
        case .exitReturn: return "exit_return"
        case .hypercall: return "hypercall"
        case .hypercallResult: return "hypercall_result"
        case .stage2Fault: return "stage2_fault"
        case .mmioAccess: return "mmio"
        case .physicalIRQ: return "irq"
        case .virtualIRQ: return "virq"
        case .waitForInterrupt: return "wfx"
        case .sysregTrap: return "sysreg"
        case .spanEnter: return "span_enter"
        case .spanLeave: return "span_leave"
        case .guestMarker: return "marker"
        case .lostEvents: return "lost_events"
        case .guestPC: return "guest_pc"
        }
    }

    /// Ids 64...127: length-prefixed, skippable by decoders that do not know them.
    @inlinable @inline(__always)
    public var isExtension: Bool { rawValue >= EventID.firstExtensionID }
}

/// The instruction that made a hypercall: HVC or SMC (trapped with HCR_EL2.TSC).
public enum HypercallConduit: UInt8, Sendable {
    case hvc = 0
    case smc = 1
}

/// What the hypervisor did with a stage-2 abort.
public enum Stage2Outcome: UInt8, Sendable {
    /// A device model emulated the access and the guest continued after the instruction.
    case emulatedMMIO = 0
    /// Nobody owns the IPA (or ESR had no valid syndrome): a synchronous external abort was injected.
    case injectedAbort = 1
    /// The page was mapped on demand and the instruction is retried.
    case mappedOnDemand = 2
    /// The access was ignored (write to a read-only register, etc.) and the instruction skipped.
    case ignored = 3

    /// `init(rawValue:)` that other modules can inline (decoders call it once per record).
    @inlinable @inline(__always)
    public init?(validRawValue raw: UInt8) {
        switch raw {
        case 0: self = .emulatedMMIO
        case 1: self = .injectedAbort
        case 2: self = .mappedOnDemand
        case 3: self = .ignored
        default: return nil
        }
    }

    public var name: StaticString {
        switch self {
        case .emulatedMMIO: return "mmio"
        case .injectedAbort: return "abort_injected"
        case .mappedOnDemand: return "mapped"
        case .ignored: return "ignored"
        }
    }
}

/// Trapped WFI or WFE (ESR_EL2 ISS.TI, Arm ARM D17.2.37 "ESR_EL2", EC 0x01).
public enum WaitKind: UInt8, Sendable {
    case wfi = 0
    case wfe = 1

    /// `init(rawValue:)` that other modules can inline (decoders call it once per record).
    @inlinable @inline(__always)
    public init?(validRawValue raw: UInt8) {
        switch raw {
        case 0: self = .wfi
        case 1: self = .wfe
        default: return nil
        }
    }

    public var name: StaticString { self == .wfi ? "wfi" : "wfe" }
}

/// Emulated device models, by the id that `mmio` records carry.
public enum MMIODevice: UInt8, CaseIterable, Sendable {
    case unknown = 0
    /// The virtual GICv2 distributor.
    case gicDistributor = 1
    /// The PL011 UART.
    case pl011 = 2
    /// The probe guest's test device.
    case probeDevice = 3
    /// The PL031 real-time clock.
    case pl031 = 4
    /// A virtio-blk disk behind a virtio-mmio transport (offsets: `VirtioMMIORegister`, and the
    /// configuration space from 0x100, `VirtioBlockConfigField`).
    case virtioBlock = 5

    public var name: StaticString {
        switch self {
        case .unknown: return "unknown"
        case .gicDistributor: return "gicd"
        case .pl011: return "pl011"
        case .probeDevice: return "probe_dev"
        case .pl031: return "pl031"
        case .virtioBlock: return "virtio-blk"
        }
    }
}

/// Handler phases named by span enter/leave records; they become frames in flame stacks.
/// Ids are stable like event ids. Next free id: 14.
public enum HandlerPhase: UInt8, CaseIterable, Sendable {
    case dispatch = 1
    case hypercall = 2
    case psci = 3
    case stage2Fault = 4
    case mmioEmulation = 5
    case vgicDistributor = 6
    case irqHandling = 7
    case vgicInjection = 8
    case timer = 9
    case sysreg = 10
    case wfx = 11
    case vcpuSwitch = 12
    /// The exit went to a userspace VMM and back (KVM_RUN returned; imported KVM traces).
    case userspace = 13

    public var name: StaticString {
        switch self {
        case .dispatch: return "dispatch"
        case .hypercall: return "hypercall"
        case .psci: return "psci"
        case .stage2Fault: return "stage2_fault"
        case .mmioEmulation: return "mmio"
        case .vgicDistributor: return "vgic_dist"
        case .irqHandling: return "irq"
        case .vgicInjection: return "vgic_inject"
        case .timer: return "timer"
        case .sysreg: return "sysreg"
        case .wfx: return "wfx"
        case .vcpuSwitch: return "vcpu_switch"
        case .userspace: return "userspace"
        }
    }
}

/// The access an MMIO or stage-2 record describes, packed in one byte:
/// bits 1:0 log2(size in bytes), bit 2 write, bit 3 the syndrome was valid (ESR_EL2.ISS.ISV),
/// bit 4 sign-extend (ISS.SSE).
public struct AccessInfo: Equatable, Sendable {
    public var rawValue: UInt8

    @inlinable @inline(__always)
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    @inlinable @inline(__always)
    public init(sizeLog2: UInt8, isWrite: Bool, syndromeValid: Bool = true, signExtend: Bool = false) {
        rawValue = (sizeLog2 & 3) | (isWrite ? 4 : 0) | (syndromeValid ? 8 : 0) | (signExtend ? 16 : 0)
    }

    public var sizeInBytes: Int { 1 << Int(rawValue & 3) }
    public var isWrite: Bool { rawValue & 4 != 0 }
    public var syndromeValid: Bool { rawValue & 8 != 0 }
    public var signExtend: Bool { rawValue & 16 != 0 }
}

/// A decoded or to-be-encoded trace event (without its timestamp).
public enum TraceEvent: Equatable, Sendable {
    /// ESR_EL2.EC (bits 31:26) and ISS (bits 24:0) of the trap, and the vCPU that trapped
    /// (VM index in bits 15:8, 0 for the first VM and not its hardware VMID; vCPU index in bits 7:0).
    case exitEntry(ec: UInt8, iss: UInt32, vcpu: UInt16)
    case exitReturn
    /// HVC/SMC: the instruction's 16-bit immediate and the SMCCC function id from w0.
    case hypercall(conduit: HypercallConduit, immediate: UInt16, functionID: UInt32)
    case hypercallResult(Int64)
    /// The faulting IPA (HPFAR_EL2 page | FAR_EL2 offset), the access, and what was done.
    case stage2Fault(ipa: UInt64, access: AccessInfo, outcome: Stage2Outcome)
    /// Device id (see `MMIODevice`), offset inside the device, access, value read or written.
    case mmioAccess(device: UInt8, offset: UInt32, access: AccessInfo, value: UInt64)
    case physicalIRQ(intid: UInt16)
    /// The virtual INTID and the vCPU it was injected into (numbered as in `exitEntry`).
    case virtualIRQ(intid: UInt16, vcpu: UInt16)
    case waitForInterrupt(WaitKind)
    /// The Op0/Op1/CRn/CRm/Op2 encoding (see `SysregEncoding`) and whether the guest wrote it.
    case sysregTrap(encoding: UInt16, isWrite: Bool)
    case spanEnter(phase: UInt8)
    case spanLeave(phase: UInt8)
    case guestMarker(id: UInt32, value: UInt64)
    case lostEvents(count: UInt64)
    /// The guest's PC (ELR_EL2) at the exit just opened.
    case guestPC(UInt64)

    /// The id this event is written with.
    public var id: EventID {
        switch self {
        case .exitEntry: return .exitEntry
        case .exitReturn: return .exitReturn
        case .hypercall: return .hypercall
        case .hypercallResult: return .hypercallResult
        case .stage2Fault: return .stage2Fault
        case .mmioAccess: return .mmioAccess
        case .physicalIRQ: return .physicalIRQ
        case .virtualIRQ: return .virtualIRQ
        case .waitForInterrupt: return .waitForInterrupt
        case .sysregTrap: return .sysregTrap
        case .spanEnter: return .spanEnter
        case .spanLeave: return .spanLeave
        case .guestMarker: return .guestMarker
        case .lostEvents: return .lostEvents
        case .guestPC: return .guestPC
        }
    }
}

/// The system-register key used in sysreg records: Op0[15:14] Op1[13:11] CRn[10:7] CRm[6:3] Op2[2:0],
/// the layout of KVM's `sys_reg()` and of the MRS/MSR encoding fields (Arm ARM C5.3).
public enum SysregEncoding {
    @inlinable @inline(__always)
    public static func make(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8) -> UInt16 {
        (UInt16(op0 & 3) << 14) | (UInt16(op1 & 7) << 11) | (UInt16(crn & 15) << 7) | (UInt16(crm & 15) << 3) | UInt16(op2 & 7)
    }

    /// The key from ESR_EL2.ISS of an EC 0x18 trap (Arm ARM D17.2.37: Op0 21:20, Op2 19:17, Op1 16:14,
    /// CRn 13:10, CRm 4:1, Direction bit 0 = read).
    @inlinable @inline(__always)
    public static func fromISS(_ iss: UInt32) -> (encoding: UInt16, isWrite: Bool) {
        let op0 = UInt8((iss >> 20) & 3)
        let op2 = UInt8((iss >> 17) & 7)
        let op1 = UInt8((iss >> 14) & 7)
        let crn = UInt8((iss >> 10) & 15)
        let crm = UInt8((iss >> 1) & 15)
        return (make(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2), iss & 1 == 0)
    }

    public static func op0(_ e: UInt16) -> UInt8 { UInt8(e >> 14) }
    public static func op1(_ e: UInt16) -> UInt8 { UInt8((e >> 11) & 7) }
    public static func crn(_ e: UInt16) -> UInt8 { UInt8((e >> 7) & 15) }
    public static func crm(_ e: UInt16) -> UInt8 { UInt8((e >> 3) & 15) }
    public static func op2(_ e: UInt16) -> UInt8 { UInt8(e & 7) }
}

/// Our hypervisor calls, defined once for the hypervisor, the guests and the host tool (which
/// names them): SMCCC vendor-specific hypervisor service calls (owner 6, DEN0028 §6) of the fast
/// SMC64 kind, so 0xC600_xxxx. 0xC600_0001 and 0xC600_0002 are retired and stay reserved.
public enum TraceHypercall {
    /// Does nothing and returns 0: the null round trip that measures the exit path's cost.
    public static let null: UInt32 = 0xC600_0000
    /// x1 = an ESR_EL2 exception class: returns how many exits of that class this vCPU has taken
    /// (the probe guest's self-checks).
    public static let exitCount: UInt32 = 0xC600_0003
    /// x1 = marker id, x2 = value: writes a `guestMarker` event. Returns 0.
    public static let guestMarker: UInt32 = 0xC600_0010
    /// Turns tracing on (x1 = 1) or off (x1 = 0) at run time. Returns the previous state.
    public static let setTracing: UInt32 = 0xC600_0011
    /// Flushes the current trace page so the host sees it now. Returns 0.
    public static let flush: UInt32 = 0xC600_0012
    /// Debug: the hypervisor panics on purpose (to test the flight recorder). Never returns.
    public static let debugPanic: UInt32 = 0xC600_00FF
}

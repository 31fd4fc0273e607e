// ESR_EL2.EC values that reach EL2 from a lower exception level, with the short names KVM and the
// Linux ESR decoder use (arch/arm64/include/asm/esr.h). Arm ARM D17.2.37 "ESR_EL2, Exception Syndrome
// Register (EL2)", field EC, bits 31:26. Shared by the hypervisor's exit dispatch and the host reports.

/// The exception class of a trap (ESR_EL2 bits 31:26).
public enum ExceptionClass: UInt8, CaseIterable, Sendable {
    case unknown = 0x00
    case wfx = 0x01
    case cp15_32 = 0x03
    case cp15_64 = 0x04
    case cp14_mr = 0x05
    case cp14_ls = 0x06
    case fpAccess = 0x07
    case cp10_id = 0x08
    case pointerAuth = 0x09
    case cp14_64 = 0x0C
    case branchTarget = 0x0D
    case illegalState = 0x0E
    case svc32 = 0x11
    case hvc32 = 0x12
    case smc32 = 0x13
    case svc64 = 0x15
    case hvc64 = 0x16
    case smc64 = 0x17
    case sysreg = 0x18
    case sve = 0x19
    case instructionAbortLower = 0x20
    case instructionAbortCurrent = 0x21
    case pcAlignment = 0x22
    case dataAbortLower = 0x24
    case dataAbortCurrent = 0x25
    case spAlignment = 0x26
    case fp32 = 0x28
    case fp64 = 0x2C
    case serror = 0x2F
    case breakpointLower = 0x30
    case breakpointCurrent = 0x31
    case softwareStepLower = 0x32
    case softwareStepCurrent = 0x33
    case watchpointLower = 0x34
    case watchpointCurrent = 0x35
    case bkpt32 = 0x38
    case brk64 = 0x3C

    /// Extracts the class from a full ESR_EL2 value; nil for classes this table does not name.
    @inline(__always)
    public init?(esr: UInt64) {
        self.init(rawValue: UInt8((esr >> 26) & 0x3F))
    }

    /// The conventional upper-case name (`HVC64`, `DABT_LOW`, …).
    public var name: StaticString {
        switch self {
        case .unknown: return "UNKNOWN"
        case .wfx: return "WFx"
        case .cp15_32: return "CP15_32"
        case .cp15_64: return "CP15_64"
        case .cp14_mr: return "CP14_MR"
        case .cp14_ls: return "CP14_LS"
        case .fpAccess: return "FP_ASIMD"
        case .cp10_id: return "CP10_ID"
        case .pointerAuth: return "PAC"
        case .cp14_64: return "CP14_64"
        case .branchTarget: return "BTI"
        case .illegalState: return "ILL"
        case .svc32: return "SVC32"
        case .hvc32: return "HVC32"
        case .smc32: return "SMC32"
        case .svc64: return "SVC64"
        case .hvc64: return "HVC64"
        case .smc64: return "SMC64"
        case .sysreg: return "SYS64"
        case .sve: return "SVE"
        case .instructionAbortLower: return "IABT_LOW"
        case .instructionAbortCurrent: return "IABT_CUR"
        case .pcAlignment: return "PC_ALIGN"
        case .dataAbortLower: return "DABT_LOW"
        case .dataAbortCurrent: return "DABT_CUR"
        case .spAlignment: return "SP_ALIGN"
        case .fp32: return "FP_EXC32"
        case .fp64: return "FP_EXC64"
        case .serror: return "SERROR"
        case .breakpointLower: return "BREAKPT_LOW"
        case .breakpointCurrent: return "BREAKPT_CUR"
        case .softwareStepLower: return "SOFTSTP_LOW"
        case .softwareStepCurrent: return "SOFTSTP_CUR"
        case .watchpointLower: return "WATCHPT_LOW"
        case .watchpointCurrent: return "WATCHPT_CUR"
        case .bkpt32: return "BKPT32"
        case .brk64: return "BRK64"
        }
    }
}

/// Exit reasons that are not synchronous traps. They are written in `exitEntry.ec` with values above
/// the 6-bit EC range so one field classifies every exit.
public enum AsynchronousExit: UInt8, CaseIterable, Sendable {
    /// A physical IRQ arrived while the guest ran (lower-EL IRQ vector).
    case irq = 0x40
    /// A physical FIQ arrived while the guest ran.
    case fiq = 0x41
    /// An SError arrived while the guest ran.
    case serror = 0x42

    public var name: StaticString {
        switch self {
        case .irq: return "IRQ"
        case .fiq: return "FIQ"
        case .serror: return "SERROR_ASYNC"
        }
    }
}

// Names for everything a report groups by: exit reasons, hypercall function ids, interrupt ids,
// system registers and stage-2 outcomes. One table each, so the report, the flame stacks and the
// comparison spell every name the same way.

/// The reason an exit happened, as a small integer: the exit entry's EC (Arm ARM D17.2.37, ESR_EL2.EC,
/// bits 31:26) or an `AsynchronousExit` value, except that a trapped WFx is split by ISS.TI (bits 1:0:
/// WFI, WFE, WFIT, WFET) into `wfxBase + TI`, because a sleeping WFI and a spinning WFE are different
/// questions for the user.
public struct ExitReason: Hashable, Comparable, Sendable {
    public var rawValue: UInt16

    @inline(__always)
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The first of the four WFx pseudo-reasons (WFI, WFE, WFIT, WFET).
    public static let wfxBase: UInt16 = 0x100
    /// One past the largest reason value; arrays indexed by reason have this many slots.
    public static let slotCount = Int(wfxBase) + 4

    /// Classifies an exit entry; a later `waitForInterrupt` event may refine a WFx exit (`waitKind`).
    @inline(__always)
    public init(ec: UInt8, iss: UInt32) {
        if ec == ExceptionClass.wfx.rawValue {
            rawValue = ExitReason.wfxBase | UInt16(iss & 3)
        } else {
            rawValue = UInt16(ec)
        }
    }

    /// The WFx reason for a `waitForInterrupt` event's kind.
    @inline(__always)
    public init(waitKind: WaitKind) { rawValue = ExitReason.wfxBase | UInt16(waitKind.rawValue) }

    public var isWFx: Bool { rawValue >= ExitReason.wfxBase }

    /// `HVC64`, `DABT_LOW`, `WFI`, `IRQ`, … or `EC_0x3F` for a class no table names.
    public var name: String { ExitReason.names[Int(rawValue)] }

    public static func < (lhs: ExitReason, rhs: ExitReason) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every reason's name, indexed by raw value, built once.
    static let names: [String] = (0..<slotCount).map { raw in
        switch raw {
        case Int(wfxBase): return "WFI"
        case Int(wfxBase) + 1: return "WFE"
        case Int(wfxBase) + 2: return "WFIT"
        case Int(wfxBase) + 3: return "WFET"
        default:
            let value = UInt8(raw)
            if let asynchronous = AsynchronousExit(rawValue: value) { return asynchronous.name.description }
            if let exceptionClass = ExceptionClass(rawValue: value) { return exceptionClass.name.description }
            return "EC_" + hexLiteral(UInt64(value), digits: 2)
        }
    }

    /// The reason whose name is `name`, if any (used to read summaries back).
    public init?(name: String) {
        guard let index = ExitReason.names.firstIndex(of: name) else { return nil }
        rawValue = UInt16(index)
    }
}

/// `0x` followed by `value` in upper-case hex, zero-padded to `digits`.
func hexLiteral(_ value: UInt64, digits: Int = 1) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
}

/// SMCCC function ids (DEN0028) and PSCI function ids (DEN0022) the guests we run use, plus our own
/// tracing hypercalls. 32- and 64-bit calling conventions of one function share a name.
public enum HypercallNames {
    static let table: [UInt32: String] = {
        var table: [UInt32: String] = [
            0x8000_0000: "SMCCC_VERSION",
            0x8000_0001: "SMCCC_ARCH_FEATURES",
            0x8000_0002: "SMCCC_ARCH_SOC_ID",
            0x8000_7FFF: "SMCCC_ARCH_WORKAROUND_2",
            0x8000_8000: "SMCCC_ARCH_WORKAROUND_1",
            0x8000_3FFF: "SMCCC_ARCH_WORKAROUND_3",
            0x8400_0000: "PSCI_VERSION",
            0x8400_0002: "CPU_OFF",
            0x8400_0006: "MIGRATE_INFO_TYPE",
            0x8400_0008: "SYSTEM_OFF",
            0x8400_0009: "SYSTEM_RESET",
            0x8400_000A: "PSCI_FEATURES",
            0x8400_000B: "CPU_FREEZE",
            0x8400_000F: "PSCI_SET_SUSPEND_MODE",
            TraceHypercall.guestMarker: "TRACE_MARKER",
            TraceHypercall.setTracing: "TRACE_SET_TRACING",
            TraceHypercall.flush: "TRACE_FLUSH",
            TraceHypercall.debugPanic: "TRACE_DEBUG_PANIC",
        ]
        // Functions with both an SMC32 (0x84…) and an SMC64 (0xC4…) form.
        let bothConventions: [(UInt32, String)] = [
            (0x01, "CPU_SUSPEND"), (0x03, "CPU_ON"), (0x04, "AFFINITY_INFO"), (0x05, "MIGRATE"),
            (0x07, "MIGRATE_INFO_UP_CPU"), (0x0C, "CPU_DEFAULT_SUSPEND"), (0x0D, "NODE_HW_STATE"),
            (0x0E, "SYSTEM_SUSPEND"), (0x10, "PSCI_STAT_RESIDENCY"), (0x11, "PSCI_STAT_COUNT"),
            (0x12, "SYSTEM_RESET2"),
        ]
        for (number, name) in bothConventions {
            table[0x8400_0000 | number] = name
            table[0xC400_0000 | number] = name
        }
        return table
    }()

    /// The function's name, or its id in hex.
    public static func name(_ functionID: UInt32) -> String {
        table[functionID] ?? hexLiteral(UInt64(functionID), digits: 8)
    }
}

/// Names of the interrupt ids on our QEMU virt platform (GICv2; common.md "Fixed platform decisions").
public enum InterruptNames {
    public static func name(_ intid: UInt16) -> String {
        switch intid {
        case 0...15: return "sgi \(intid)"
        case 25: return "vgic_maint"
        case 26: return "hyp_timer"
        case 27: return "vtimer"
        case 30: return "ptimer"
        case 33: return "uart"
        case 1020...1023: return "spurious"
        default: return "intid \(intid)"
        }
    }
}

/// Names of the EL0/EL1 system registers guests commonly trap on, by `SysregEncoding` key
/// (Arm ARM D19 "AArch64 System Register Descriptions"; encodings as in Linux's `sysreg.h`).
public enum SysregNames {
    static let table: [UInt16: String] = {
        let entries: [(UInt8, UInt8, UInt8, UInt8, UInt8, String)] = [
            (2, 0, 0, 2, 2, "MDSCR_EL1"), (2, 0, 1, 0, 4, "OSLAR_EL1"), (2, 0, 1, 1, 4, "OSLSR_EL1"),
            (2, 0, 1, 3, 4, "OSDLR_EL1"),
            (3, 0, 0, 0, 0, "MIDR_EL1"), (3, 0, 0, 0, 5, "MPIDR_EL1"), (3, 0, 0, 0, 6, "REVIDR_EL1"),
            (3, 0, 0, 4, 0, "ID_AA64PFR0_EL1"), (3, 0, 0, 4, 1, "ID_AA64PFR1_EL1"),
            (3, 0, 0, 5, 0, "ID_AA64DFR0_EL1"), (3, 0, 0, 5, 1, "ID_AA64DFR1_EL1"),
            (3, 0, 0, 6, 0, "ID_AA64ISAR0_EL1"), (3, 0, 0, 6, 1, "ID_AA64ISAR1_EL1"),
            (3, 0, 0, 7, 0, "ID_AA64MMFR0_EL1"), (3, 0, 0, 7, 1, "ID_AA64MMFR1_EL1"),
            (3, 0, 0, 7, 2, "ID_AA64MMFR2_EL1"),
            (3, 0, 1, 0, 0, "SCTLR_EL1"), (3, 0, 1, 0, 1, "ACTLR_EL1"), (3, 0, 1, 0, 2, "CPACR_EL1"),
            (3, 0, 2, 0, 0, "TTBR0_EL1"), (3, 0, 2, 0, 1, "TTBR1_EL1"), (3, 0, 2, 0, 2, "TCR_EL1"),
            (3, 0, 4, 6, 0, "ICC_PMR_EL1"),
            (3, 0, 5, 1, 0, "AFSR0_EL1"), (3, 0, 5, 1, 1, "AFSR1_EL1"), (3, 0, 5, 2, 0, "ESR_EL1"),
            (3, 0, 6, 0, 0, "FAR_EL1"), (3, 0, 7, 4, 0, "PAR_EL1"),
            (3, 0, 10, 2, 0, "MAIR_EL1"), (3, 0, 10, 3, 0, "AMAIR_EL1"),
            (3, 0, 12, 0, 0, "VBAR_EL1"), (3, 0, 12, 11, 5, "ICC_SGI1R_EL1"),
            (3, 0, 12, 12, 0, "ICC_IAR1_EL1"), (3, 0, 12, 12, 1, "ICC_EOIR1_EL1"),
            (3, 0, 12, 12, 5, "ICC_SRE_EL1"), (3, 0, 12, 12, 7, "ICC_IGRPEN1_EL1"),
            (3, 0, 13, 0, 1, "CONTEXTIDR_EL1"), (3, 0, 13, 0, 4, "TPIDR_EL1"),
            (3, 0, 14, 1, 0, "CNTKCTL_EL1"),
            (3, 1, 0, 0, 0, "CCSIDR_EL1"), (3, 1, 0, 0, 1, "CLIDR_EL1"), (3, 2, 0, 0, 0, "CSSELR_EL1"),
            (3, 3, 0, 0, 1, "CTR_EL0"), (3, 3, 0, 0, 7, "DCZID_EL0"),
            (3, 3, 9, 12, 0, "PMCR_EL0"), (3, 3, 9, 13, 0, "PMCCNTR_EL0"),
            (3, 3, 13, 0, 2, "TPIDR_EL0"),
            (3, 3, 14, 0, 0, "CNTFRQ_EL0"), (3, 3, 14, 0, 1, "CNTPCT_EL0"), (3, 3, 14, 0, 2, "CNTVCT_EL0"),
            (3, 3, 14, 2, 0, "CNTP_TVAL_EL0"), (3, 3, 14, 2, 1, "CNTP_CTL_EL0"),
            (3, 3, 14, 2, 2, "CNTP_CVAL_EL0"), (3, 3, 14, 3, 0, "CNTV_TVAL_EL0"),
            (3, 3, 14, 3, 1, "CNTV_CTL_EL0"), (3, 3, 14, 3, 2, "CNTV_CVAL_EL0"),
        ]
        var table: [UInt16: String] = [:]
        for (op0, op1, crn, crm, op2, name) in entries {
            table[SysregEncoding.make(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2)] = name
        }
        return table
    }()

    /// The register's name, or the generic `S<op0>_<op1>_C<n>_C<m>_<op2>` spelling assemblers accept.
    public static func name(_ encoding: UInt16) -> String {
        if let name = table[encoding] { return name }
        return "S\(SysregEncoding.op0(encoding))_\(SysregEncoding.op1(encoding))_C\(SysregEncoding.crn(encoding))"
            + "_C\(SysregEncoding.crm(encoding))_\(SysregEncoding.op2(encoding))"
    }
}

// Human names for the numbers inside events: exit reasons, SMCCC/PSCI functions, interrupt ids,
// system registers. Used by `dump` and the reports.

/// Names for exit reasons (`exitEntry.ec`): ESR_EL2 classes plus the asynchronous exits.
public enum ExitReasonName {
    /// `HVC64`, `DABT_LOW`, `IRQ`, or `EC_0x2a` for classes without a name.
    public static func name(ec: UInt8) -> String {
        if let known = ExceptionClass(rawValue: ec) { return "\(known.name)" }
        if let async = AsynchronousExit(rawValue: ec) { return "\(async.name)" }
        return "EC_0x" + hex(UInt64(ec), digits: 2)
    }
}

/// SMCCC function ids the hypervisor sees (DEN0028 SMC Calling Convention; DEN0022 PSCI 1.1 §5.1;
/// the trace hypercalls of `TraceHypercall`).
public enum HypercallName {
    /// The function's name, without the SMC32/SMC64 distinction; nil when unknown.
    public static func name(functionID: UInt32) -> String? {
        switch functionID {
        case 0x8000_0000: return "SMCCC_VERSION"
        case 0x8000_0001: return "SMCCC_ARCH_FEATURES"
        case 0x8000_0002: return "SMCCC_ARCH_SOC_ID"
        case 0x8000_8000: return "SMCCC_ARCH_WORKAROUND_1"
        case 0x8000_7FFF: return "SMCCC_ARCH_WORKAROUND_2"
        case 0x8000_3FFF: return "SMCCC_ARCH_WORKAROUND_3"
        case TraceHypercall.guestMarker: return "HVTRACE_MARKER"
        case TraceHypercall.setTracing: return "HVTRACE_SET_TRACING"
        case TraceHypercall.flush: return "HVTRACE_FLUSH"
        case TraceHypercall.debugPanic: return "HVTRACE_DEBUG_PANIC"
        default: break
        }
        // PSCI: owner 4 (standard secure service), function numbers 0x00-0x1F; SMC32 0x84.., SMC64 0xC4...
        guard functionID & 0xBFFF_FFE0 == 0x8400_0000 else { return nil }
        switch functionID & 0x1F {
        case 0x00: return "PSCI_VERSION"
        case 0x01: return "PSCI_CPU_SUSPEND"
        case 0x02: return "PSCI_CPU_OFF"
        case 0x03: return "PSCI_CPU_ON"
        case 0x04: return "PSCI_AFFINITY_INFO"
        case 0x05: return "PSCI_MIGRATE"
        case 0x06: return "PSCI_MIGRATE_INFO_TYPE"
        case 0x07: return "PSCI_MIGRATE_INFO_UP_CPU"
        case 0x08: return "PSCI_SYSTEM_OFF"
        case 0x09: return "PSCI_SYSTEM_RESET"
        case 0x0A: return "PSCI_FEATURES"
        case 0x0B: return "PSCI_CPU_FREEZE"
        case 0x0C: return "PSCI_CPU_DEFAULT_SUSPEND"
        case 0x0D: return "PSCI_NODE_HW_STATE"
        case 0x0E: return "PSCI_SYSTEM_SUSPEND"
        case 0x0F: return "PSCI_SET_SUSPEND_MODE"
        case 0x10: return "PSCI_STAT_RESIDENCY"
        case 0x11: return "PSCI_STAT_COUNT"
        case 0x12: return "PSCI_SYSTEM_RESET2"
        case 0x13: return "PSCI_MEM_PROTECT"
        case 0x14: return "PSCI_MEM_PROTECT_CHECK_RANGE"
        default: return nil
        }
    }

    /// PSCI return codes (DEN0022 §5.2.2).
    public static func pscireturnName(_ value: Int64) -> String? {
        switch value {
        case 0: return "SUCCESS"
        case -1: return "NOT_SUPPORTED"
        case -2: return "INVALID_PARAMETERS"
        case -3: return "DENIED"
        case -4: return "ALREADY_ON"
        case -5: return "ON_PENDING"
        case -6: return "INTERNAL_FAILURE"
        case -7: return "NOT_PRESENT"
        case -8: return "DISABLED"
        case -9: return "INVALID_ADDRESS"
        default: return nil
        }
    }
}

/// Interrupt ids on the QEMU virt board with GICv2 (PPIs 16-31, SPIs from 32).
public enum InterruptName {
    public static func name(intid: UInt16) -> String? {
        switch intid {
        case 25: return "gic_maintenance"  // PPI 9
        case 26: return "hyp_timer"        // PPI 10, CNTHP
        case 27: return "virt_timer"       // PPI 11, CNTV
        case 29: return "sec_phys_timer"   // PPI 13
        case 30: return "phys_timer"       // PPI 14, CNTP
        case 33: return "pl011"            // SPI 1
        default: return intid < 16 ? "sgi\(intid)" : nil
        }
    }
}

/// Names for trapped system registers (Arm ARM D19 register index), by `SysregEncoding` key.
public enum SystemRegisterName {
    public static func name(encoding: UInt16) -> String {
        let e = encoding
        let key = (SysregEncoding.op0(e), SysregEncoding.op1(e), SysregEncoding.crn(e), SysregEncoding.crm(e), SysregEncoding.op2(e))
        switch key {
        case (3, 0, 1, 0, 0): return "SCTLR_EL1"
        case (3, 0, 1, 0, 2): return "CPACR_EL1"
        case (3, 0, 2, 0, 0): return "TTBR0_EL1"
        case (3, 0, 2, 0, 1): return "TTBR1_EL1"
        case (3, 0, 2, 0, 2): return "TCR_EL1"
        case (3, 0, 5, 1, 0): return "AFSR0_EL1"
        case (3, 0, 5, 2, 0): return "ESR_EL1"
        case (3, 0, 6, 0, 0): return "FAR_EL1"
        case (3, 0, 10, 2, 0): return "MAIR_EL1"
        case (3, 0, 13, 0, 1): return "CONTEXTIDR_EL1"
        case (3, 0, 0, 0, 5): return "MPIDR_EL1"
        case (3, 0, 0, 0, 0): return "MIDR_EL1"
        case (3, 3, 14, 0, 1): return "CNTPCT_EL0"
        case (3, 3, 14, 2, 1): return "CNTP_CTL_EL0"
        case (3, 3, 14, 2, 2): return "CNTP_CVAL_EL0"
        case (3, 3, 9, 12, 0): return "PMCR_EL0"
        case (2, 0, 0, 2, 2): return "MDSCR_EL1"
        case (3, 0, 12, 11, 5): return "ICC_SGI1R_EL1"
        case (2, 0, 1, 0, 4): return "OSLAR_EL1"
        default:
            return "S\(key.0)_\(key.1)_C\(key.2)_C\(key.3)_\(key.4)"
        }
    }
}

/// `value` in lower-case hex, zero-padded to `digits`.
public func hex(_ value: UInt64, digits: Int = 1) -> String {
    let text = String(value, radix: 16)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}

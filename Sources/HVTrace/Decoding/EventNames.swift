// Human names for the numbers inside events: exit reasons, SMCCC/PSCI functions, interrupt ids,
// system registers. One table each, used by `dump`, `report`, `flame` and `compare` alike.

/// Names for exit reasons (`exitEntry.ec`): ESR_EL2 classes plus the asynchronous exits, spelled
/// as `ExitReason` spells them (`EC_0x2A` for classes without a name). A trapped WFx keeps its
/// class name here; the analyses split it by ISS.TI (`ExitReason`).
public enum ExitReasonName {
    public static func name(ec: UInt8) -> String {
        if ec == ExceptionClass.wfx.rawValue { return "\(ExceptionClass.wfx.name)" }
        return ExitReason(ec: ec, iss: 0).name
    }
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
            0x8400_0013: "MEM_PROTECT",
            TraceHypercall.null: "HVTRACE_NULL",
            TraceHypercall.exitCount: "HVTRACE_EXIT_COUNT",
            TraceHypercall.guestMarker: "HVTRACE_MARKER",
            TraceHypercall.setTracing: "HVTRACE_SET_TRACING",
            TraceHypercall.flush: "HVTRACE_FLUSH",
            TraceHypercall.debugPanic: "HVTRACE_DEBUG_PANIC",
        ]
        // Functions with both an SMC32 (0x84…) and an SMC64 (0xC4…) form.
        let bothConventions: [(UInt32, String)] = [
            (0x01, "CPU_SUSPEND"), (0x03, "CPU_ON"), (0x04, "AFFINITY_INFO"), (0x05, "MIGRATE"),
            (0x07, "MIGRATE_INFO_UP_CPU"), (0x0C, "CPU_DEFAULT_SUSPEND"), (0x0D, "NODE_HW_STATE"),
            (0x0E, "SYSTEM_SUSPEND"), (0x10, "PSCI_STAT_RESIDENCY"), (0x11, "PSCI_STAT_COUNT"),
            (0x12, "SYSTEM_RESET2"), (0x14, "MEM_PROTECT_CHECK_RANGE"),
        ]
        for (number, name) in bothConventions {
            table[0x8400_0000 | number] = name
            table[0xC400_0000 | number] = name
        }
        return table
    }()

    /// The function's name, nil when no table entry names it.
    public static func knownName(_ functionID: UInt32) -> String? { table[functionID] }

    /// The function's name, or its id in hex.
    public static func name(_ functionID: UInt32) -> String {
        table[functionID] ?? hexLiteral(UInt64(functionID), digits: 8)
    }

    /// PSCI return codes (DEN0022 §5.2.2), as x0 holds them after a PSCI call.
    public static func psciReturnName(_ value: Int64) -> String? {
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

/// Names of the interrupt ids on our QEMU virt platform (GICv2; common.md "Fixed platform decisions").
/// No spaces, so a name is one word in folded stacks and `key=value` dump fields.
public enum InterruptNames {
    /// The interrupt's name, nil for an INTID without one.
    public static func knownName(_ intid: UInt16) -> String? {
        switch intid {
        case 0...15: return "sgi\(intid)"
        case 25: return "gic_maintenance"  // PPI 9, the GICH maintenance interrupt
        case 26: return "hyp_timer"        // PPI 10, CNTHP
        case 27: return "virt_timer"       // PPI 11, CNTV
        case 29: return "sec_phys_timer"   // PPI 13, CNTPS
        case 30: return "phys_timer"       // PPI 14, CNTP
        case 33: return "pl011"            // SPI 1, the UART
        case 1020...1023: return "spurious"
        default:
            // QEMU virt's virtio-mmio transports (SPI 16 + n): the disk's is named after the device.
            guard let transport = QEMUVirtioTransports.transport(interrupt: UInt32(intid)) else { return nil }
            return transport == QEMUVirtioTransports.diskTransport ? "\(MMIODevice.virtioBlock.name)" : "virtio_mmio\(transport)"
        }
    }

    /// The interrupt's name, or `intidN`.
    public static func name(_ intid: UInt16) -> String { knownName(intid) ?? "intid\(intid)" }
}

/// Names of the registers `mmio` records access, for the devices whose register layout the
/// catalogue defines: virtio-blk (the virtio-mmio transport registers of virtio 1.2 §4.2.2 by their
/// specification names, and `config.<field>` for virtio-blk's configuration space, §5.2.4).
public enum DeviceRegisterNames {
    /// The register `offset` names in `device`, nil for devices without a register table (GICD,
    /// PL011, …: their rows and frames stay per device).
    public static func name(device: UInt8, offset: UInt64) -> String? {
        guard device == MMIODevice.virtioBlock.rawValue else { return nil }
        if let register = VirtioMMIORegister(offset: offset) { return "\(register.name)" }
        let configuration = UInt64(VirtioMMIORegister.configurationSpace)
        if offset >= configuration && offset < UInt64(VirtioMMIORegister.windowSize) {
            let field = offset - configuration
            return "config." + (VirtioBlockConfigField.name(offset: field).map { "\($0)" } ?? "0x\(hex(field, digits: 2))")
        }
        return "reg_0x\(hex(offset, digits: 3))"
    }

    /// `device:register` (one word, for report rows), or the device name alone.
    public static func label(device: UInt8, offset: UInt64) -> String {
        let deviceName = MMIODevice(rawValue: device).map { "\($0.name)" } ?? "device \(device)"
        guard let register = name(device: device, offset: offset) else { return deviceName }
        return "\(deviceName):\(register)"
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

/// `value` in lower-case hex, zero-padded to `digits`.
public func hex(_ value: UInt64, digits: Int = 1) -> String {
    let text = String(value, radix: 16)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}

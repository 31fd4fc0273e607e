import CHAL

/// The physical GICv2 distributor (ARM IHI 0048B, chapter 4.3). The hypervisor owns it;
/// guests see an emulated distributor instead.
enum GICDistributor {
  static var base: UInt64 = Platform.distributorBase

  static func initialize() {
    mmio_write32(base + 0x000, 0)  // GICD_CTLR: disable while configuring
    let lines = Int((mmio_read32(base + 0x004) & 0x1F) + 1) * 32  // GICD_TYPER.ITLinesNumber
    for word in 1..<(lines / 32) {
      mmio_write32(base + 0x180 + UInt64(word * 4), 0xFFFF_FFFF)  // ICENABLER: all SPIs off
      mmio_write32(base + 0x280 + UInt64(word * 4), 0xFFFF_FFFF)  // ICPENDR
    }
    for interrupt in stride(from: 32, to: lines, by: 4) {
      mmio_write32(base + 0x400 + UInt64(interrupt), 0xA0A0_A0A0)  // IPRIORITYR
      mmio_write32(base + 0x800 + UInt64(interrupt), 0x0101_0101)  // ITARGETSR: CPU 0
    }
    mmio_write32(base + 0x000, 1)  // GICD_CTLR.Enable
  }

  /// Per-CPU (banked) part: SGIs/PPIs priority. Call on every physical CPU.
  static func initializeBankedInterrupts() {
    mmio_write32(base + 0x180, 0xFFFF_FFFF)  // ICENABLER0
    for interrupt in stride(from: 0, to: 32, by: 4) {
      mmio_write32(base + 0x400 + UInt64(interrupt), 0xA0A0_A0A0)
    }
  }

  static func enable(_ interrupt: UInt32) {
    mmio_write32(base + 0x100 + UInt64(interrupt / 32) * 4, 1 << (interrupt % 32))
  }

  static func disable(_ interrupt: UInt32) {
    mmio_write32(base + 0x180 + UInt64(interrupt / 32) * 4, 1 << (interrupt % 32))
  }

  static var lineCount: Int { Int((mmio_read32(base + 0x004) & 0x1F) + 1) * 32 }

  /// GICD_ITARGETSR byte of SPI `interrupt`: the physical CPUs (bit n = CPU interface n) it
  /// is delivered to (IHI 0048B 4.3.12).
  static func setTargets(_ interrupt: UInt32, cpuMask: UInt8) {
    mmio_write8(base + 0x800 + UInt64(interrupt), cpuMask)
  }

  /// GICD_SGIR (IHI 0048B 4.3.15): SGI `interrupt` to the CPU interfaces in `cpuMask`
  /// (TargetListFilter = 0b00, CPUTargetList [23:16], SGIINTID [3:0]). A DSB first, so that
  /// whatever the target is told to look at is visible before the interrupt arrives.
  static func sendSoftwareInterrupt(_ interrupt: UInt32, cpuMask: UInt8) {
    hal_dsb_ish()
    mmio_write32(base + 0xF00, UInt32(cpuMask) << 16 | (interrupt & 0xF))
  }
}

/// The physical GICv2 CPU interface (IHI 0048B, 4.4), run with EOImode = 1 so that EOIR
/// only drops priority and deactivation happens separately, by GICC_DIR: at once for the
/// hypervisor's own interrupts, after the guest's EOI for the ones a VM owns.
enum GICCPUInterface {
  static var base: UInt64 = Platform.cpuInterfaceBase
  /// GICC_PMR: interrupts with a priority value below this are signalled.
  static let priorityMask: UInt32 = 0xF0

  static func initialize() {
    mmio_write32(base + 0x004, priorityMask)  // GICC_PMR: let priorities < 0xF0 through
    mmio_write32(base + 0x008, 0)  // GICC_BPR
    mmio_write32(base + 0x000, 1 | (1 << 9))  // GICC_CTLR: Enable, EOImode
  }

  /// GICC_IAR: the interrupt ID (bits [9:0]) with the source CPU (bits [12:10]).
  @inline(__always) static func acknowledge() -> UInt32 { mmio_read32(base + 0x00C) }
  /// GICC_EOIR: priority drop.
  @inline(__always) static func endOfInterrupt(_ iar: UInt32) { mmio_write32(base + 0x010, iar) }
  /// GICC_DIR: deactivate.
  @inline(__always) static func deactivate(_ iar: UInt32) { mmio_write32(base + 0x1000, iar) }

}

/// The GICv2 virtual interface control block, GICH (IHI 0048B, 5.3): list registers through
/// which the hypervisor presents virtual interrupts to the guest's GICV.
enum GICHypervisorInterface {
  static var base: UInt64 = Platform.hypervisorInterfaceBase

  /// GICH_VTR.ListRegs + 1.
  static var listRegisterCount: Int { Int(mmio_read32(base + 0x004) & 0x3F) + 1 }

  /// GICH_HCR (IHI 0048B 5.3.1): bit 0 En, bit 1 UIE (underflow: maintenance interrupt while
  /// at most one LR is valid).
  static func setControl(enabled: Bool, underflowInterrupt: Bool) {
    mmio_write32(base + 0x000, (enabled ? 1 : 0) | (underflowInterrupt ? 2 : 0))
  }

  @inline(__always) static func listRegister(_ index: Int) -> UInt32 {
    mmio_read32(base + 0x100 + UInt64(index) * 4)
  }

  @inline(__always) static func setListRegister(_ index: Int, _ value: UInt32) {
    mmio_write32(base + 0x100 + UInt64(index) * 4, value)
  }

  /// GICH_ELRSR0 (IHI 0048B 5.3.8): bit n set when LR n holds no valid interrupt and is free
  /// (an invalid LR with EOI = 1 is not free: it is in GICH_EISR until rewritten).
  @inline(__always) static func emptyListRegisters() -> UInt32 { mmio_read32(base + 0x030) }
  /// GICH_EISR0 (IHI 0048B 5.3.7): bit n set when LR n asked for an EOI maintenance interrupt
  /// (LR.EOI = 1, HW = 0) and the guest has EOIed it. GICH_MISR.EOI, and so the maintenance
  /// interrupt, stays asserted until the hypervisor rewrites those LRs.
  @inline(__always) static func endOfInterruptListRegisters() -> UInt32 { mmio_read32(base + 0x020) }
  /// GICH_MISR: maintenance interrupt status.
  static func maintenanceStatus() -> UInt32 { mmio_read32(base + 0x010) }
  /// GICH_VMCR (saved per vCPU on a switch).
  static var virtualMachineControl: UInt32 {
    get { mmio_read32(base + 0x008) }
    set { mmio_write32(base + 0x008, newValue) }
  }
  /// GICH_APR (active priorities, saved per vCPU on a switch).
  static var activePriorities: UInt32 {
    get { mmio_read32(base + 0x0F0) }
    set { mmio_write32(base + 0x0F0, newValue) }
  }
}

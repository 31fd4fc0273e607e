import CHAL

/// A VM's virtual GICv2: the emulated distributor (`VGICDistributor`, core/model) shared by all
/// its vCPUs behind one spinlock, plus how its state reaches each vCPU's list registers.
///
/// - The guest's GICD page is unmapped in stage 2; every access traps and lands in
///   `access(_:offset:value:vcpu:)` (IHI 0048B 4.3).
/// - The guest's GICC is the hardware GICV frame: acknowledging and EOI run without exits.
/// - Physical interrupts the VM owns (the timer PPIs, the PL011's SPI) are *forwarded*: the
///   hypervisor only drops their priority (EOImode = 1), raises the line in the model and injects
///   the virtual interrupt with LR.EOI = 1. The physical interrupt stays active, so it cannot fire
///   again, until the guest's EOI raises the EOI maintenance interrupt and the hypervisor
///   deactivates it with GICC_DIR (IHI 0048B 5.3.11 and 5.3.7). An interrupt the guest has
///   disabled simply stays physically active and undelivered until it is enabled.
///
///   Why not LR.HW = 1 (the guest's EOI deactivating the physical interrupt without an exit, as KVM
///   does): QEMU's GICv2 (hw/intc/arm_gic.c, 7.2 and later) handles that EOI in gic_complete_irq →
///   gic_clear_active, which clears the physical active bit and then re-evaluates only the *virtual*
///   interface (gic_update_virt), never the physical one (gic_update). A level interrupt that
///   re-asserted while active (a virtual timer re-armed to a deadline that passes before the
///   handler's EOI, common under free-running TCG) is then pending and inactive but never signalled,
///   until some other GIC register write or input change runs gic_update: a guest that does not
///   exit sees no timer at all (issue 14; probe mode probe-timer-rate). GICC_DIR runs through
///   gic_cpu_write, which does call gic_update. The cost is one maintenance exit per forwarded
///   interrupt.
/// - SGIs (GICD_SGIR writes) go into the model; a target vCPU on another physical CPU gets a
///   physical SGI ("kick") so it exits and refills its list registers.
final class VirtualGIC {
  /// INTIDs the guest sees: 128 (GICD_TYPER.ITLinesNumber = 3), enough for QEMU virt's SPIs.
  static let interruptCount = 128
  private let distributor: VGICDistributor
  private let lock = SpinLock()
  /// Physical interrupts delivered to this VM as hardware-linked virtual interrupts.
  let hardwareInterrupts: [UInt32]

  init(vcpuCount: Int, hardwareInterrupts: [UInt32]) {
    distributor = VGICDistributor(interruptCount: VirtualGIC.interruptCount, vcpuCount: vcpuCount)
    self.hardwareInterrupts = hardwareInterrupts
    // SPIs target vCPU 0 out of reset, as firmware would leave them (and as a uniprocessor GIC
    // must: its ITARGETSR are RAZ/WI, all SPIs go to the one CPU, IHI 0048B 4.3.12).
    for word in stride(from: 32, to: VirtualGIC.interruptCount, by: 4) {
      _ = distributor.write(offset: GICDistributorRegister.targetsBase + word, size: 4,
                            value: 0x0101_0101, vcpu: 0)
    }
  }

  @inline(__always) func isHardwareLinked(_ interrupt: UInt32) -> Bool {
    hardwareInterrupts.contains(interrupt)
  }

  // MARK: Guest distributor accesses

  /// An emulated GICD access from `vcpu` (stage-2 data abort in the distributor's page).
  func access(_ access: MMIOAccess, offset: UInt64, value: UInt64, vcpu: VCpu) -> DeviceAccessResult {
    let size = access.sizeInBytes
    guard VGICDistributor.isValidAccess(offset: Int(offset), size: size) else { return .unsupported }
    lock.lock()
    defer { lock.unlock() }
    guard access.isWrite else {
      return .completed(UInt64(distributor.read(offset: Int(offset), size: size, vcpu: vcpu.index)))
    }
    let update = distributor.write(offset: Int(offset), size: size,
                                   value: UInt32(truncatingIfNeeded: value), vcpu: vcpu.index)
    guard update.accepted else { return .unsupported }
    if Int(offset) >= GICDistributorRegister.targetsBase
      && Int(offset) < GICDistributorRegister.configurationBase
    {
      mirrorTargets(firstInterrupt: Int(offset) - GICDistributorRegister.targetsBase, count: size)
    }
    apply(update, from: vcpu)
    return .completed(0)
  }

  /// The guest routed SPIs: a hardware-linked SPI must reach the physical CPU that runs the vCPU
  /// it now targets (vCPU n runs on physical CPU n).
  private func mirrorTargets(firstInterrupt: Int, count: Int) {
    for interrupt in hardwareInterrupts where interrupt >= 32 {
      let index = Int(interrupt) - firstInterrupt
      guard index >= 0 && index < count else { continue }
      let targets = UInt8(truncatingIfNeeded: distributor.read(
        offset: GICDistributorRegister.targetsBase + Int(interrupt), size: 1, vcpu: 0))
      let route = targets & (0 &- targets)  // the lowest target gets it (the model's choice)
      if route != 0 { GICDistributor.setTargets(interrupt, cpuMask: route) }
    }
  }

  // MARK: Interrupt sources

  /// A forwarded physical interrupt fired on `vcpu`'s physical CPU (and is left active).
  /// The LRs the guest finished with are retired first, so that a line lowered there cannot
  /// undo the one raised here.
  func hardwareInterruptFired(_ interrupt: UInt32, vcpu: VCpu) {
    lock.lock()
    retireFinished(vcpu)
    let update = distributor.setLineLevel(interrupt: Int(interrupt), asserted: true, vcpu: vcpu.index)
    apply(update, from: vcpu)
    lock.unlock()
  }

  /// A maintenance interrupt (EOI of a forwarded interrupt, or underflow) or a kick arrived: look at the model again on the way
  /// back to the guest. (Under the lock: the other CPU may be setting bits of the same word.)
  func requestRefill(_ vcpu: VCpu) {
    lock.lock()
    vcpu.listRegisters.needsRefill = true
    lock.unlock()
  }

  /// Marks the vCPUs whose deliverable interrupts changed; kicks those running elsewhere.
  /// Called with the lock held.
  private func apply(_ update: VGICUpdate, from vcpu: VCpu) {
    guard update.vcpusToUpdate != 0 else { return }
    var kick: UInt8 = 0
    for other in vcpu.vm.vcpus where update.vcpusToUpdate & (1 << UInt8(other.index)) != 0 {
      other.listRegisters.needsRefill = true
      if other !== vcpu && other.powerState == .on { kick |= 1 << UInt8(other.index) }
    }
    if kick != 0 { GICDistributor.sendSoftwareInterrupt(Platform.kickInterrupt, cpuMask: kick) }
  }

  // MARK: List registers

  /// Brings `vcpu`'s list registers and the model in step; runs on `vcpu`'s physical CPU before
  /// every return to the guest. First retires the LRs the guest has finished with (GICH_ELRSR:
  /// invalid = deactivated; a hardware-linked line is lowered, since the physical interrupt, now
  /// deactivated too, fires again if its source is still asserted), then offers the model's
  /// highest-priority deliverable interrupts in free LRs, and asks for the underflow maintenance
  /// interrupt (GICH_HCR.UIE) while more are waiting than fit.
  func synchronize(_ vcpu: VCpu) {
    lock.lock()
    retireFinished(vcpu)
    if vcpu.listRegisters.needsRefill || vcpu.listRegisters.underflowRequested {
      vcpu.listRegisters.needsRefill = false
      var free = 0
      for index in 0..<vcpu.listRegisters.count where vcpu.listRegisters.inUse & (1 << UInt32(index)) == 0 { free += 1 }
      // One more slot than free LRs: finding it filled means some are left waiting.
      let offered = distributor.pendingDeliverable(
        vcpu: vcpu.index, into: UnsafeMutableBufferPointer(start: vcpu.listRegisters.scratch, count: free + 1))
      var placed = 0
      var index = 0
      while placed < min(offered, free) {
        if vcpu.listRegisters.inUse & (1 << UInt32(index)) == 0 {
          place(vcpu.listRegisters.scratch[placed], in: index, vcpu: vcpu)
          placed += 1
        }
        index += 1
      }
      let underflow = offered > free
      if underflow != vcpu.listRegisters.underflowRequested {
        vcpu.listRegisters.underflowRequested = underflow
        GICHypervisorInterface.setControl(enabled: true, underflowInterrupt: underflow)
      }
    }
    lock.unlock()
  }

  /// Retires the LRs of `vcpu` the guest has finished with: invalid and free (GICH_ELRSR), or
  /// invalid with an EOI maintenance request (GICH_EISR: the forwarded interrupts). A forwarded
  /// interrupt's LR is cleared (which drops the maintenance interrupt), its physical interrupt is
  /// deactivated with GICC_DIR (it fires again if the source is still asserted) and its line in
  /// the model lowered. Called with the lock held, on `vcpu`'s physical CPU.
  private func retireFinished(_ vcpu: VCpu) {
    guard vcpu.listRegisters.inUse != 0 else { return }
    var finished = GICHypervisorInterface.emptyListRegisters()
    if vcpu.listRegisters.forwardedInUse != 0 { finished |= GICHypervisorInterface.endOfInterruptListRegisters() }
    finished &= vcpu.listRegisters.inUse
    guard finished != 0 else { return }
    for index in 0..<vcpu.listRegisters.count where finished & (1 << UInt32(index)) != 0 {
      let entry = vcpu.listRegisters.entries[index]
      vcpu.listRegisters.inUse &= ~(1 << UInt32(index))
      let interrupt = Int(entry.interrupt)
      if entry.hardwareLinked {
        vcpu.listRegisters.forwardedInUse &= ~(1 << UInt32(index))
        GICHypervisorInterface.setListRegister(index, 0)
        GICCPUInterface.deactivate(UInt32(interrupt))
        _ = distributor.setLineLevel(interrupt: interrupt, asserted: false, vcpu: vcpu.index)
      }
      let update = distributor.deactivate(vcpu: vcpu.index, interrupt: interrupt)
      if update.vcpusToUpdate != 0 { apply(update, from: vcpu) }
      vcpu.listRegisters.needsRefill = true
    }
  }

  /// Writes one deliverable interrupt into LR `index` and marks it active in the model.
  private func place(_ deliverable: VGICDeliverable, in index: Int, vcpu: VCpu) {
    let interrupt = UInt32(deliverable.interrupt)
    distributor.acknowledge(vcpu: vcpu.index, interrupt: Int(interrupt),
                            sourceVCPU: Int(deliverable.sourceVCPU))
    let forwarded = interrupt >= 16 && isHardwareLinked(interrupt)
    let value = GICListRegister(virtualInterrupt: interrupt, priority: deliverable.priority,
                                maintenanceOnEOI: forwarded,
                                group1: deliverable.group1, sourceCPU: deliverable.sourceVCPU)
    GICHypervisorInterface.setListRegister(index, value.rawValue)
    vcpu.listRegisters.entries[index] = ListRegisterEntry(interrupt: UInt16(interrupt), hardwareLinked: forwarded)
    vcpu.listRegisters.inUse |= 1 << UInt32(index)
    if forwarded { vcpu.listRegisters.forwardedInUse |= 1 << UInt32(index) }
    Trace.virtualInterruptInjected(interrupt, vcpu: vcpu)
  }

  /// The vCPU is turning off (PSCI CPU_OFF): every interrupt in its list registers counts as
  /// deactivated, hardware-linked ones are deactivated physically (GICC_DIR) so they can fire
  /// again, and the LRs are cleared.
  func retireAll(_ vcpu: VCpu) {
    lock.lock()
    for index in 0..<vcpu.listRegisters.count where vcpu.listRegisters.inUse & (1 << UInt32(index)) != 0 {
      let entry = vcpu.listRegisters.entries[index]
      GICHypervisorInterface.setListRegister(index, 0)
      if entry.hardwareLinked {
        GICCPUInterface.deactivate(UInt32(entry.interrupt))
        _ = distributor.setLineLevel(interrupt: Int(entry.interrupt), asserted: false, vcpu: vcpu.index)
      }
      _ = distributor.deactivate(vcpu: vcpu.index, interrupt: Int(entry.interrupt))
    }
    vcpu.listRegisters.inUse = 0
    vcpu.listRegisters.forwardedInUse = 0
    lock.unlock()
  }

  /// True when one of `vcpu`'s list registers holds an interrupt the guest has not taken yet
  /// (a WFI must not sleep then).
  func hasPendingInListRegisters(_ vcpu: VCpu) -> Bool {
    for index in 0..<vcpu.listRegisters.count where vcpu.listRegisters.inUse & (1 << UInt32(index)) != 0 {
      let lr = GICListRegister(rawValue: GICHypervisorInterface.listRegister(index))
      if lr.state == .pending || lr.state == .pendingAndActive { return true }
    }
    return vcpu.listRegisters.underflowRequested
  }
}

/// What the hypervisor put in one list register.
struct ListRegisterEntry {
  var interrupt: UInt16 = 0
  /// A forwarded physical interrupt of the same INTID, left active until the guest's EOI.
  var hardwareLinked = false
}

/// One vCPU's view of its physical CPU's list registers (GICH_LRn are banked per CPU interface;
/// with vCPU n pinned to physical CPU n they never need saving). A struct stored in the VCpu, so
/// the check on every exit is a few loads with no reference counting.
struct ListRegisterFile {
  /// GICH_VTR.ListRegs + 1 (4 on QEMU's GICv2), read on the vCPU's physical CPU.
  private(set) var count = 0
  /// Everything an exit checks, in one word: bits [15:0] = LRs in use, bit 30 = refill needed,
  /// bit 31 = underflow interrupt requested.
  private var state: UInt32 = 0
  private static let inUseMask: UInt32 = 0xFFFF
  private static let refillBit: UInt32 = 1 << 30
  private static let underflowBit: UInt32 = 1 << 31

  /// Bit n: LR n holds an interrupt this file placed and has not yet seen retired.
  var inUse: UInt32 {
    get { state & Self.inUseMask }
    set { state = (state & ~Self.inUseMask) | (newValue & Self.inUseMask) }
  }
  /// The model may have something new for this vCPU (set by any physical CPU, under the lock).
  var needsRefill: Bool {
    get { state & Self.refillBit != 0 }
    set { state = newValue ? state | Self.refillBit : state & ~Self.refillBit }
  }
  /// GICH_HCR.UIE is set: deliverable interrupts are waiting for a free LR.
  var underflowRequested: Bool {
    get { state & Self.underflowBit != 0 }
    set { state = newValue ? state | Self.underflowBit : state & ~Self.underflowBit }
  }
  /// Bit n: LR n holds a forwarded interrupt (LR.EOI = 1), so GICH_EISR is worth reading.
  var forwardedInUse: UInt32 = 0
  var entries: UnsafeMutablePointer<ListRegisterEntry>
  /// pendingDeliverable's output buffer (never allocated on an exit path).
  let scratch: UnsafeMutablePointer<VGICDeliverable>
  static let maximumCount = 16

  /// Something to do before returning to the guest: LRs to retire, or interrupts to place.
  @inline(__always) var needsSynchronization: Bool { state != 0 }

  init() {
    entries = UnsafeMutablePointer<ListRegisterEntry>.allocate(capacity: ListRegisterFile.maximumCount)
    entries.initialize(repeating: ListRegisterEntry(), count: ListRegisterFile.maximumCount)
    scratch = UnsafeMutablePointer<VGICDeliverable>.allocate(capacity: ListRegisterFile.maximumCount + 1)
    scratch.initialize(
      repeating: VGICDeliverable(interrupt: 0, priority: 0, sourceVCPU: 0, group1: false, levelSensitive: false),
      count: ListRegisterFile.maximumCount + 1)
  }

  /// On the vCPU's physical CPU before its first entry: clears every LR and enables the
  /// virtual CPU interface (GICH_HCR.En).
  mutating func loadIntoHardware() {
    count = min(GICHypervisorInterface.listRegisterCount, ListRegisterFile.maximumCount)
    for index in 0..<count { GICHypervisorInterface.setListRegister(index, 0) }
    inUse = 0
    forwardedInUse = 0
    needsRefill = true
    underflowRequested = false
    GICHypervisorInterface.setControl(enabled: true, underflowInterrupt: false)
  }
}

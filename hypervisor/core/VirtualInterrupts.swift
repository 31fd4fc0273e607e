/// Per-vCPU virtual interrupt delivery through the GICH list registers. When all list
/// registers are busy, interrupts wait in `overflow` and the underflow maintenance interrupt
/// (GICH_HCR.UIE) asks for a refill once the guest has consumed enough of them.
final class VirtualInterruptState {
  /// Pending LR values that found no free list register.
  private var overflow: [GICListRegister] = []
  private(set) var injected: UInt64 = 0
  private(set) var queuedCount: UInt64 = 0
  private var listRegisterCount = 0

  func loadIntoHardware() {
    listRegisterCount = GICHypervisorInterface.listRegisterCount
    GICHypervisorInterface.setControl(enabled: true, underflowInterrupt: !overflow.isEmpty)
  }

  /// Injects `interrupt` (with `hardwareInterrupt` linked for pass-through interrupts).
  func inject(_ interrupt: UInt32, priority: UInt8, hardwareInterrupt: UInt32?, vcpu: VCpu) {
    let value = GICListRegister(virtualInterrupt: interrupt, priority: priority,
                                hardwareInterrupt: hardwareInterrupt)
    injected += 1
    // Already pending or active in an LR? (a level-triggered source re-asserting)
    if place(value) {
      Trace.virtualInterruptInjected(interrupt, vcpu: vcpu)
    } else {
      overflow.append(value)
      queuedCount += 1
      GICHypervisorInterface.setControl(enabled: true, underflowInterrupt: true)
      Trace.virtualInterruptInjected(interrupt, vcpu: vcpu)
    }
  }

  /// Puts `value` in a free list register; false when all are in use.
  private func place(_ value: GICListRegister) -> Bool {
    let empty = GICHypervisorInterface.emptyListRegisters()
    for index in 0..<listRegisterCount where empty & (1 << UInt32(index)) != 0 {
      GICHypervisorInterface.setListRegister(index, value.rawValue)
      return true
    }
    return false
  }

  /// Maintenance interrupt: move queued interrupts into freed list registers.
  func refill() {
    while let first = overflow.first, place(first) { overflow.removeFirst() }
    GICHypervisorInterface.setControl(enabled: true, underflowInterrupt: !overflow.isEmpty)
  }

  /// True when some virtual interrupt is still pending for the guest (in an LR or queued).
  var hasPending: Bool {
    if !overflow.isEmpty { return true }
    for index in 0..<listRegisterCount {
      let lr = GICListRegister(rawValue: GICHypervisorInterface.listRegister(index))
      if lr.state == .pending || lr.state == .pendingAndActive { return true }
    }
    return false
  }
}

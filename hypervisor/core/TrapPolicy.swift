/// What the guest may do directly and what traps to EL2: the HCR_EL2, CNTHCTL_EL2, MDCR_EL2
/// and CPTR_EL2 values every VM runs with.
enum TrapPolicy {
  /// HCR_EL2 (Arm ARM D17.2.48): VM (0) stage-2 on; SWIO (1); FMO/IMO/AMO (3–5) route physical
  /// FIQ/IRQ/SError to EL2 and enable virtual interrupts; TWI (13)/TWE (14) trap WFI/WFE;
  /// TSC (19) traps SMC; TACR (21) traps ACTLR_EL1; RW (31) EL1 is AArch64.
  /// FB (9) and BSU = inner shareable (10–11): TLB/cache maintenance and barriers from EL1 are
  /// broadcast, as an SMP guest whose vCPUs run on different physical CPUs needs.
  static let hypervisorConfiguration: UInt64 =
    1 << 0 | 1 << 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 9 | 1 << 10 | 1 << 13 | 1 << 14 | 1 << 19
    | 1 << 21 | 1 << 31
  /// HCR_EL2.TWE, cleared for VMs that do not trap WFE.
  static let trapWaitForEventBit: UInt64 = 1 << 14

  /// CNTHCTL_EL2 (D17.2.63, non-VHE): EL1PCTEN (0) and EL1PCEN (1): the guest uses the EL1
  /// physical counter and timer directly (NimbOS's CNTP); the virtual timer is always its own.
  static let timerControl: UInt64 = 1 << 0 | 1 << 1

  /// CPTR_EL2 (D17.2.34, non-VHE): RES1 bits [13:12] and [9:0]; TFP (10) = 0 — FP/SIMD is not
  /// trapped because the hypervisor image contains no FP/SIMD instructions (make check-nofp),
  /// so the guest's FP state is never touched.
  static let trapControl: UInt64 = 0x33FF

  /// MDCR_EL2 (D17.2.100): HPMN = all counters to EL1/EL0, no debug or PMU traps.
  static func debugControl(counterCount: UInt64) -> UInt64 { counterCount & 0x1F }

  /// Programs all of the above on the current physical CPU.
  static func apply(trapWaitForEvent: Bool = true) {
    VirtualizationControl.configure(
      hypervisorConfiguration: trapWaitForEvent
        ? hypervisorConfiguration : hypervisorConfiguration & ~trapWaitForEventBit,
      timerControl: timerControl,
      debugControl: debugControl(counterCount: VirtualizationControl.performanceCounterCount()),
      trapControl: trapControl)
    VirtualizationControl.countCyclesAtEL2()
  }
}

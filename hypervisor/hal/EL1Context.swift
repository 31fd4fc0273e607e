import CHAL

/// The guest's EL1 system-register state (plus the EL0 thread registers and timers): what a
/// vCPU switch saves and restores. A plain exit leaves these live in the CPU.
struct EL1Context {
  var sctlr: UInt64 = 0x30D0_0800  // SCTLR_EL1 RES1 bits, MMU and caches off (Arm ARM D17.2.118)
  var ttbr0: UInt64 = 0
  var ttbr1: UInt64 = 0
  var tcr: UInt64 = 0
  var mair: UInt64 = 0
  var amair: UInt64 = 0
  var vbar: UInt64 = 0
  var contextID: UInt64 = 0
  var threadID: UInt64 = 0
  var threadIDEL0: UInt64 = 0
  var threadIDReadOnlyEL0: UInt64 = 0
  var stackPointerEL0: UInt64 = 0
  var stackPointerEL1: UInt64 = 0
  var exceptionLinkEL1: UInt64 = 0
  var savedStateEL1: UInt64 = 0
  var syndromeEL1: UInt64 = 0
  var faultAddressEL1: UInt64 = 0
  var auxiliaryFault0: UInt64 = 0
  var auxiliaryFault1: UInt64 = 0
  var physicalAddressResult: UInt64 = 0
  var architecturalFeatureAccess: UInt64 = 0
  var cacheSizeSelection: UInt64 = 0
  var counterKernelControl: UInt64 = 0
  var virtualTimerControl: UInt64 = 0
  var virtualTimerCompare: UInt64 = 0
  var physicalTimerControl: UInt64 = 0
  var physicalTimerCompare: UInt64 = 0

  mutating func saveFromHardware() {
    sctlr = read_sctlr_el1(); ttbr0 = read_ttbr0_el1(); ttbr1 = read_ttbr1_el1()
    tcr = read_tcr_el1(); mair = read_mair_el1(); amair = read_amair_el1()
    vbar = read_vbar_el1(); contextID = read_contextidr_el1(); threadID = read_tpidr_el1()
    threadIDEL0 = read_tpidr_el0(); threadIDReadOnlyEL0 = read_tpidrro_el0()
    stackPointerEL0 = read_sp_el0(); stackPointerEL1 = read_sp_el1()
    exceptionLinkEL1 = read_elr_el1(); savedStateEL1 = read_spsr_el1()
    syndromeEL1 = read_esr_el1(); faultAddressEL1 = read_far_el1()
    auxiliaryFault0 = read_afsr0_el1(); auxiliaryFault1 = read_afsr1_el1()
    physicalAddressResult = read_par_el1(); architecturalFeatureAccess = read_cpacr_el1()
    cacheSizeSelection = read_csselr_el1(); counterKernelControl = read_cntkctl_el1()
    virtualTimerControl = read_cntv_ctl_el0(); virtualTimerCompare = read_cntv_cval_el0()
    physicalTimerControl = read_cntp_ctl_el0(); physicalTimerCompare = read_cntp_cval_el0()
    // Stop this vCPU's timers from firing while it is not running.
    write_cntv_ctl_el0(0); write_cntp_ctl_el0(0)
  }

  func loadIntoHardware() {
    write_sctlr_el1(sctlr); write_ttbr0_el1(ttbr0); write_ttbr1_el1(ttbr1)
    write_tcr_el1(tcr); write_mair_el1(mair); write_amair_el1(amair)
    write_vbar_el1(vbar); write_contextidr_el1(contextID); write_tpidr_el1(threadID)
    write_tpidr_el0(threadIDEL0); write_tpidrro_el0(threadIDReadOnlyEL0)
    write_sp_el0(stackPointerEL0); write_sp_el1(stackPointerEL1)
    write_elr_el1(exceptionLinkEL1); write_spsr_el1(savedStateEL1)
    write_esr_el1(syndromeEL1); write_far_el1(faultAddressEL1)
    write_afsr0_el1(auxiliaryFault0); write_afsr1_el1(auxiliaryFault1)
    write_par_el1(physicalAddressResult); write_cpacr_el1(architecturalFeatureAccess)
    write_csselr_el1(cacheSizeSelection); write_cntkctl_el1(counterKernelControl)
    write_cntv_cval_el0(virtualTimerCompare); write_cntv_ctl_el0(virtualTimerControl)
    write_cntp_cval_el0(physicalTimerCompare); write_cntp_ctl_el0(physicalTimerControl)
    hal_isb()
  }
}

/// Live EL1 exception registers, for injecting an exception into the running guest.
enum GuestExceptionRegisters {
  /// Records an exception in ESR_EL1/FAR_EL1/ELR_EL1/SPSR_EL1 and returns VBAR_EL1.
  static func record(syndrome: UInt64, faultAddress: UInt64?, returnAddress: UInt64,
                     savedState: UInt64) -> UInt64 {
    write_esr_el1(syndrome)
    if let faultAddress { write_far_el1(faultAddress) }
    write_elr_el1(returnAddress)
    write_spsr_el1(savedState)
    return read_vbar_el1()
  }

  /// ACTLR_EL1, accessed on behalf of a guest whose accesses trap (HCR_EL2.TACR).
  static var auxiliaryControl: UInt64 { read_actlr_el1() }
}

import CHAL

/// Stage-2 translation control (the hal half of the core's stage-2 page tables):
/// installs VTCR_EL2/VTTBR_EL2 and performs TLB maintenance for one VMID.
enum Stage2MMU {
  /// Programs the translation regime of the VM about to run (Arm ARM D17.2.151 VTCR_EL2,
  /// D17.2.152 VTTBR_EL2: BADDR bits [47:1], VMID bits [55:48]).
  static func install(vtcr: UInt64, vttbr: UInt64) {
    write_vtcr_el2(vtcr)
    write_vttbr_el2(vttbr)
    hal_isb()
  }

  /// After page-table changes: make the stores visible to the walker, then invalidate
  /// all stage-1 and stage-2 TLB entries of the VMID currently in VTTBR_EL2.
  static func invalidateCurrentVMID() {
    hal_dsb_ishst()
    hal_tlbi_vmalls12e1is()
    hal_dsb_ish()
    hal_isb()
  }

  /// Invalidates one IPA's stage-2 entry (and, conservatively, all stage-1 entries, as the
  /// Arm ARM requires after a stage-2 change — D8.14.5) for the current VMID.
  static func invalidate(ipa: UInt64) {
    hal_dsb_ishst()
    hal_tlbi_ipas2e1is(ipa >> 12)
    hal_dsb_ish()
    hal_tlbi_vmalls12e1is()
    hal_dsb_ish()
    hal_isb()
  }
}

/// The guest-facing control registers of EL2 (HCR_EL2, CNTHCTL_EL2, MDCR_EL2, CPTR_EL2).
enum VirtualizationControl {
  static func configure(hypervisorConfiguration: UInt64, timerControl: UInt64,
                        debugControl: UInt64, trapControl: UInt64) {
    write_hcr_el2(hypervisorConfiguration)
    write_cnthctl_el2(timerControl)
    write_cntvoff_el2(0)
    write_mdcr_el2(debugControl)
    write_cptr_el2(trapControl)
    hal_isb()
  }

  /// PMCR_EL0.N (bits [15:11]): the number of event counters, for MDCR_EL2.HPMN.
  static func performanceCounterCount() -> UInt64 { (read_pmcr_el0() >> 11) & 0x1F }

  /// Lets the cycle counter count at EL2 too (PMCCFILTR_EL0.NSH, bit 27), so a guest
  /// measuring a round trip with PMCCNTR_EL0 sees the hypervisor's share.
  static func countCyclesAtEL2() {
    write_pmccfiltr_el0(read_pmccfiltr_el0() | (1 << 27))
    write_pmcr_el0(read_pmcr_el0() | 1)  // PMCR_EL0.E
    write_pmcntenset_el0(1 << 31)  // cycle counter enable
    hal_isb()
  }

  static func setVirtualIdentity(midr: UInt64, mpidr: UInt64) {
    write_vpidr_el2(midr)
    write_vmpidr_el2(mpidr)
  }
}

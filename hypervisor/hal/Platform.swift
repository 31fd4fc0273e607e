import CHAL

/// Physical addresses of QEMU `virt` devices the hypervisor itself drives (fixed platform
/// decision, notes/common.md). The DTB confirms RAM and carries bootargs; these stay constant.
enum Platform {
  static let distributorBase: UInt64 = 0x0800_0000
  static let cpuInterfaceBase: UInt64 = 0x0801_0000
  static let hypervisorInterfaceBase: UInt64 = 0x0803_0000
  static let virtualCPUInterfaceBase: UInt64 = 0x0804_0000
  static let uartBase: UInt64 = 0x0900_0000
  static let uartInterrupt: UInt32 = 33
  /// GICv2 maintenance interrupt: PPI 9.
  static let maintenanceInterrupt: UInt32 = 25
  /// The physical SGI one physical CPU sends another to make it exit its guest and look at
  /// its vCPU's virtual interrupts again (a "kick"; KVM's kvm_vcpu_kick does the same).
  static let kickInterrupt: UInt32 = 1
  /// Where QEMU places its DTB when it boots an ELF with -kernel.
  static let defaultDeviceTreeAddress: UInt64 = 0x4000_0000
}

/// The CPU registers the core needs, behind names (the core never writes `mrs`/`msr` itself).
enum CPU {
  /// ESR_EL2 of the exception being handled.
  @inline(__always) static func exceptionSyndrome() -> UInt64 { read_esr_el2() }
  /// FAR_EL2: the faulting virtual address (valid for aborts).
  @inline(__always) static func faultVirtualAddress() -> UInt64 { read_far_el2() }
  /// The faulting IPA: HPFAR_EL2.FIPA (bits [39:4] hold IPA[51:12]) plus FAR's page offset
  /// (Arm ARM D17.2.60).
  @inline(__always) static func faultIntermediatePhysicalAddress() -> UInt64 {
    ((read_hpfar_el2() & 0x0FFF_FFFF_FFF0) << 8) | (read_far_el2() & 0xFFF)
  }
  /// CNTPCT_EL0, the system counter.
  @inline(__always) static func counter() -> UInt64 { read_cntpct_el0() }
  static func counterFrequency() -> UInt64 { read_cntfrq_el0() }
  /// Physical address range supported, ID_AA64MMFR0_EL1.PARange (bits [3:0]).
  static func physicalAddressRangeField() -> UInt8 { UInt8(read_id_aa64mmfr0_el1() & 0xF) }
  /// ID_AA64MMFR0_EL1 (Arm ARM D19.2.64): granule support, PARange.
  static func memoryModelFeatures0() -> UInt64 { read_id_aa64mmfr0_el1() }
  static func mainID() -> UInt64 { read_midr_el1() }
  static func multiprocessorAffinity() -> UInt64 { read_mpidr_el1() }
  static func currentExceptionLevel() -> UInt64 { (read_currentel() >> 2) & 3 }
  /// SCTLR_EL2 M, C, I bits (MMU, data cache, instruction cache).
  static func el2TranslationAndCachesEnabled() -> Bool { read_sctlr_el2() & 0x1005 == 0x1005 }
  /// Physical wait for interrupt at EL2 (wakes on any pending IRQ even while masked).
  @inline(__always) static func waitForInterrupt() { hal_wfi() }
  @inline(__always) static func waitForEvent() { hal_wfe() }
  /// Wakes physical CPUs waiting in WFE.
  @inline(__always) static func sendEvent() { hal_sev() }
  /// Cleans [address, address + size) from the data caches to the point of coherency, for data
  /// the hypervisor wrote that a guest reads with its MMU (and so its caches) off.
  static func cleanToPointOfCoherency(address: UInt64, size: UInt64) {
    let line = hal_data_cache_line_size()
    var cursor = address & ~(line - 1)
    while cursor < address + size {
      hal_dc_cvac(cursor)
      cursor += line
    }
    hal_dsb_sy()
  }
  static func halt() -> Never {
    while true { hal_wfe() }
  }
}

/// Per-physical-CPU data reached through TPIDR_EL2.
enum PerCPUData {
  @inline(__always) static var current: UnsafeMutablePointer<PerCPU> {
    hal_this_cpu().unsafelyUnwrapped
  }
  /// The trap frame slot at the top of this CPU's stack (see exceptions.S).
  static var frameSlot: UnsafeMutablePointer<TrapFrame> {
    UnsafeMutablePointer<TrapFrame>(bitPattern: UInt(current.pointee.stackTop) - UInt(TRAP_FRAME_SIZE))!
  }
}

/// PSCI calls from the hypervisor to the firmware (QEMU's built-in PSCI, SMC conduit).
enum Firmware {
  static func systemOff() -> Never {
    _ = hal_smc_call(0x8400_0008, 0, 0, 0)
    CPU.halt()
  }
  static func systemReset() -> Never {
    _ = hal_smc_call(0x8400_0009, 0, 0, 0)
    CPU.halt()
  }
  /// PSCI CPU_ON (SMC64) for a secondary physical CPU; returns the PSCI status.
  static func cpuOn(targetAffinity: UInt64, entry: UInt64, context: UInt64) -> Int64 {
    Int64(bitPattern: hal_smc_call(0xC400_0003, targetAffinity, entry, context))
  }
}

/// A spinlock shared by physical CPUs (hal.h: exclusive swap with acquire, release + SEV).
struct SpinLock {
  private let word: UnsafeMutablePointer<UInt32>

  init() {
    word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    word.initialize(to: 0)
  }

  @inline(__always) func lock() { hal_spin_lock(word) }
  @inline(__always) func unlock() { hal_spin_unlock(word) }
}

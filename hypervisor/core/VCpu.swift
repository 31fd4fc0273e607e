import CHAL
import TraceFormat

/// Lifecycle of a virtual CPU (PSCI's view: on or off).
enum VCpuPowerState: Equatable {
  case off
  case on
}

/// A virtual CPU: the guest registers (x0–x30, ELR, SPSR in a TrapFrame; EL1 system registers
/// and timers in an EL1Context), its virtual interrupt state and exit statistics.
/// While the vCPU runs, its TrapFrame lives at the top of the physical CPU's stack (see
/// exceptions.S) and its EL1 registers live in the CPU; `switchOut()` copies both back here.
final class VCpu {
  let index: Int
  /// The owning VM (which keeps its vCPUs alive; unowned(unsafe) as Embedded Swift has no weak/unowned).
  unowned(unsafe) let vm: VM
  var powerState: VCpuPowerState
  /// Guest registers while not running (and the initial state).
  var savedFrame = TrapFrame()
  var el1 = EL1Context()
  /// Virtual MPIDR (VMPIDR_EL2, Arm ARM D17.2.158): bit 31 RES1, Aff0 = index; it matches
  /// `reg` of /cpus/cpu@index in the guest's DTB and CPU_ON's target_cpu.
  var affinity: UInt64 { 0x8000_0000 | UInt64(index) }
  var listRegisters = ListRegisterFile()
  /// Exits per ESR_EL2.EC value (64 slots), and physical interrupts taken while running.
  let exitCounts: UnsafeMutablePointer<UInt64>
  var interruptExits: UInt64 = 0
  /// The vCPU field of trace records: the VM's index (`VM.index`, 0 for the first VM, not its
  /// hardware VMID) in bits 15:8, the vCPU index in bits 7:0. Values below 128 (the first VM's
  /// vCPUs) encode as a one-byte varint in every exit entry.
  let traceIdentifier: UInt16
  #if !HVTRACE_DISABLED
  /// `traceIdentifier` as the varint exit records carry, encoded once (TraceHooks' exitEntry).
  let traceIdentifierVarint: PreencodedVarint
  #endif

  init(index: Int, vm: VM, powerState: VCpuPowerState) {
    self.index = index
    self.vm = vm
    self.powerState = powerState
    self.traceIdentifier = UInt16(vm.index) << 8 | UInt16(truncatingIfNeeded: index)
    #if !HVTRACE_DISABLED
    self.traceIdentifierVarint = PreencodedVarint(traceIdentifier)
    #endif
    exitCounts = UnsafeMutablePointer<UInt64>.allocate(capacity: 64)
    exitCounts.initialize(repeating: 0, count: 64)
  }

  /// Sets the registers for a cold start at `entry` (EL1h, interrupts masked).
  func reset(entry: UInt64, x0: UInt64, x1: UInt64 = 0) {
    savedFrame = TrapFrame()
    savedFrame.x.0 = x0
    savedFrame.x.1 = x1
    savedFrame.elr = entry
    savedFrame.spsr = GuestExceptionEntry.entryState
    el1 = EL1Context()
  }

  var totalExits: UInt64 {
    var sum = interruptExits
    for index in 0..<64 { sum += exitCounts[index] }
    return sum
  }

  /// The vCPU running on this physical CPU (TPIDR_EL2 → PerCPU.currentVCpu).
  /// Runs `body` with the running vCPU borrowed (no retain/release: the VM keeps it alive).
  @inline(__always) static func withCurrent<Result>(_ body: (VCpu) -> Result) -> Result {
    Unmanaged<VCpu>.fromOpaque(PerCPUData.current.pointee.currentVCpu!)._withUnsafeGuaranteedRef(body)
  }

  @inline(__always) static var current: VCpu {
    Unmanaged<VCpu>.fromOpaque(PerCPUData.current.pointee.currentVCpu!).takeUnretainedValue()
  }

  /// Brings the list registers up to date before returning to the guest (most exits: nothing to
  /// do, and the check costs a few loads).
  @inline(__always) func synchronizeInterrupts() {
    if listRegisters.needsSynchronization { vm.gic.synchronize(self) }
  }

  /// Makes this vCPU the current one and enters the guest; does not return.
  func switchInAndRun() -> Never {
    PerCPUData.current.pointee.currentVCpu = Unmanaged.passUnretained(self).toOpaque()
    vm.activateTranslation()
    VirtualizationControl.setVirtualIdentity(midr: CPU.mainID(), mpidr: affinity)
    el1.loadIntoHardware()
    listRegisters.loadIntoHardware()
    let slot = PerCPUData.frameSlot
    slot.pointee = savedFrame
    hal_enter_guest(slot)
  }
}

/// Entry from `hal_enter_guest` (exceptions.S).
@_silgen_name("hal_enter_guest")
func hal_enter_guest(_ frame: UnsafeMutablePointer<TrapFrame>) -> Never

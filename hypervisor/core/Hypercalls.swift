import CHAL
import TraceFormat

/// HVC and SMC from the guest: PSCI 1.1, SMCCC 1.1 and our own calls (core/model/PSCI.swift).
/// The result goes to x0; unknown function ids return NOT_SUPPORTED (-1).
@inline(__always)
func handleHypervisorCall(frame: UnsafeMutablePointer<TrapFrame>, viaSMC: Bool, immediate: UInt16,
                          vcpu: VCpu) -> ExitAction {
  let functionID = frame.pointee.x.0
  // Fast path: the null call by SMC (by HVC it never gets here: handleSynchronousExit records that
  // whole exit at once). Nothing else happens before the ERET, so the call, its result and the
  // exit's return are recorded together.
  if functionID == UInt64(FunctionID.hypervisorNull) {
    frame.pointee.x.0 = 0
    Trace.hypercallCompletedExit(functionID: functionID, immediate: immediate, viaSMC: viaSMC, result: 0)
    return .resumeReturnTraced
  }
  Trace.hypercall(functionID: functionID, immediate: immediate, viaSMC: viaSMC)
  let phase: HandlerPhase = functionID & 0xFF00_0000 == 0x8400_0000 || functionID & 0xFF00_0000 == 0xC400_0000
    ? .psci : .hypercall
  Trace.spanEnter(phase)
  let request = HypervisorCallRequest(x0: functionID, x1: frame.pointee.x.1,
                                      x2: frame.pointee.x.2, x3: frame.pointee.x.3)
  var action = ExitAction.resume
  let result: UInt64
  switch request {
  case .smcccVersion: result = smcccVersionValue
  case .smcccArchFeatures(let queried): result = smcccArchFeatures(queried).register
  case .psciVersion: result = psciVersionValue
  case .psciFeatures(let queried): result = psciFeatures(queried).register
  case .cpuOn(let target, let entry, let context):
    result = startVCpu(vcpu.vm, targetAffinity: target, entry: entry, context: context).register
  case .cpuOff:
    // Does not return: the physical CPU parks until CPU_ON starts this vCPU again, so the exit's
    // records are closed here (the restarted vCPU's next exit opens a new one).
    Trace.spanLeave(phase)
    Trace.exitReturn()
    powerOffCurrentVCpu(vcpu)
  case .affinityInfo(let target, let level):
    if let error = vcpu.vm.topology.checkAffinityInfo(targetAffinity: target, lowestLevel: level) {
      result = error.register
    } else {
      let index = vcpu.vm.topology.vcpuIndex(affinity: target)!
      result = vcpu.vm.vcpus[index].powerState == .on ? 0 : 1  // ON = 0, OFF = 1
    }
  case .migrateInfoType: result = 2  // Trusted OS not present / does not require migration
  case .systemOff: result = 0; action = .powerOff
  case .systemReset: result = 0; action = .reset
  case .hypervisorNull: result = 0
  case .traceMarker(let id, let value):
    Trace.guestMarker(id: id, value: value)
    result = 0
  case .setTracing(let on):
    result = setTracingFromGuest(on: on, frame: frame, functionID: functionID, immediate: immediate,
                                 viaSMC: viaSMC, vcpu: vcpu)
  case .flushTrace:
    Tracing.flushCurrentCPU()
    result = 0
  case .panicNow: result = 0; action = .panicRequested
  case .exitCount(let exceptionClass):
    result = exceptionClass < 64 ? vcpu.exitCounts[Int(exceptionClass)]
      : (exceptionClass == 0x100 ? vcpu.interruptExits : PSCIReturn.invalidParameters.register)
  case .unknown: result = PSCIReturn.notSupported.register
  }
  frame.pointee.x.0 = result
  Trace.spanLeave(phase)
  Trace.hypercallResult(result)
  return action
}

/// `TraceHypercall.setTracing`: switches tracing on (x1 != 0) or off; returns the previous state
/// (1/0), or NOT_SUPPORTED when tracing is compiled out. The calling exit stays well formed:
/// switching off closes it (span, result and return recorded now), switching on opens it
/// (entry with the vector's timestamp, the call and the span), so it pairs like any other.
func setTracingFromGuest(on: Bool, frame: UnsafeMutablePointer<TrapFrame>, functionID: UInt64, immediate: UInt16,
                         viaSMC: Bool, vcpu: VCpu) -> UInt64 {
  #if HVTRACE_DISABLED
  return PSCIReturn.notSupported.register
  #else
  let wasOn = Tracing.enabled
  if wasOn && !on {
    Trace.spanLeave(.hypercall)
    Trace.hypercallResult(1)
    Trace.exitReturn()
    Tracing.setEnabled(false)
  } else if !wasOn && on {
    Tracing.setEnabled(true)
    Trace.exitEntry(frame, ExceptionSyndrome(rawValue: CPU.exceptionSyndrome()), vcpu: vcpu)
    Trace.hypercall(functionID: functionID, immediate: immediate, viaSMC: viaSMC)
    Trace.spanEnter(.hypercall)
  }
  return wasOn ? 1 : 0
  #endif
}

/// PSCI CPU_ON (DEN 0022D 5.6): vCPU n runs on physical CPU n. The target vCPU gets a cold
/// start at `entry` with x0 = `context` (EL1h, DAIF masked, MMU off); its physical CPU is
/// started through the firmware the first time (at `hal_secondary_entry`) and woken with SEV
/// after a CPU_OFF.
func startVCpu(_ vm: VM, targetAffinity: UInt64, entry: UInt64, context: UInt64) -> PSCIReturn {
  if let error = vm.topology.checkCPUOn(targetAffinity: targetAffinity, entryPoint: entry,
                                        targetIsOn: { vm.vcpus[$0].powerState == .on }) {
    return error
  }
  let index = vm.topology.vcpuIndex(affinity: targetAffinity)!
  let target = vm.vcpus[index]
  target.reset(entry: entry, x0: context)
  PhysicalCPUs.publish()
  target.powerState = .on
  PhysicalCPUs.publish()
  guard PhysicalCPUs.ensureStarted(index) else {
    target.powerState = .off
    return .internalFailure
  }
  CPU.sendEvent()
  return .success
}

/// PSCI CPU_OFF from the running vCPU: retire its list registers, mark it off and park its
/// physical CPU until a CPU_ON for it arrives. Does not return.
func powerOffCurrentVCpu(_ vcpu: VCpu) -> Never {
  vcpu.vm.gic.retireAll(vcpu)
  vcpu.powerState = .off
  PhysicalCPUs.publish()
  PhysicalCPUs.runWhenPoweredOn(vcpu)
}

/// The physical CPUs the hypervisor has started (CPU 0 boots; the others on demand).
enum PhysicalCPUs {
  private static var started: UInt32 = 1

  /// Makes earlier stores visible to the other CPUs before the next one.
  @inline(__always) static func publish() { hal_dsb_ish() }

  /// Starts physical CPU `index` at hal_secondary_entry if it is not running yet; false when the
  /// firmware refuses (no such CPU).
  static func ensureStarted(_ index: Int) -> Bool {
    guard started & (1 << UInt32(index)) == 0 else { return true }
    // QEMU virt's physical MPIDR: Aff0 = CPU index.
    let status = Firmware.cpuOn(targetAffinity: UInt64(index), entry: hal_secondary_entry_address(),
                                context: UInt64(index))
    guard status == 0 else {
      Console.write("hv: firmware CPU_ON for physical CPU "); Console.write(decimal: UInt64(index))
      Console.write(" failed: "); Console.write(hex: UInt64(bitPattern: status)); Console.write("\r\n")
      return false
    }
    started |= 1 << UInt32(index)
    return true
  }

  /// Waits (WFE) until `vcpu` is powered on, then enters it on this physical CPU.
  static func runWhenPoweredOn(_ vcpu: VCpu) -> Never {
    while vcpu.powerState != .on { CPU.waitForEvent() }
    publish()
    vcpu.switchInAndRun()
  }
}

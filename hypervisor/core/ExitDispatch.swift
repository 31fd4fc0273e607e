import CHAL
import TraceFormat

/// What the hypervisor does after handling an exit.
enum ExitAction: Equatable {
  /// Return to the guest (ERET with the possibly updated frame).
  case resume
  /// Return to the guest; the handler has already recorded the exit's `exitReturn` together with
  /// its own events in one producer update (the null-hypercall fast path).
  case resumeReturnTraced
  /// The guest asked for PSCI SYSTEM_OFF: stop the machine.
  case powerOff
  /// The guest asked for PSCI SYSTEM_RESET.
  case reset
  /// The guest asked the hypervisor to panic (debug hypercall).
  case panicRequested
}

/// Every synchronous exit from a guest lands here (exceptions.S, lower-EL sync vector).
/// One decode of ESR_EL2, one switch on the exception class, one action.
@_cdecl("hv_lower_sync_exit")
func handleLowerSynchronousExit(_ frame: UnsafeMutablePointer<TrapFrame>) {
  // The running vCPU is kept alive by its VM: borrow it without a retain/release pair (an
  // atomic read-modify-write each, ~30 instructions per exit).
  VCpu.withCurrent { vcpu in handleSynchronousExit(frame, vcpu: vcpu) }
}

/// The synchronous exit of `vcpu`, the running vCPU.
@inline(__always)
func handleSynchronousExit(_ frame: UnsafeMutablePointer<TrapFrame>, vcpu: VCpu) {
  let syndrome = ExceptionSyndrome(rawValue: CPU.exceptionSyndrome())
  vcpu.exitCounts[Int(syndrome.exceptionClassBits)] &+= 1
  // Fast path: the null HVC (what the round-trip measurement exercises). Nothing else happens
  // before the ERET, so the whole exit (entry, call, result, return) is one producer update.
  let functionID = frame.pointee.x.0
  if syndrome.exceptionClassBits == ExceptionClass.hvc64.rawValue && functionID == UInt64(FunctionID.hypervisorNull) {
    injectDelayIntoHypervisorCall()  // nothing unless built with INJECT_DELAY=hvc (perf-gate test)
    frame.pointee.x.0 = 0
    Trace.nullHypercallExit(frame, syndrome, vcpu: vcpu, functionID: functionID)
    return
  }
  Trace.exitEntry(frame, syndrome, vcpu: vcpu)
  let action = dispatchSynchronousExit(syndrome, frame: frame, vcpu: vcpu)
  if action == .resumeReturnTraced { return }
  if action != .resume { finish(action, frame: frame, vcpu: vcpu) }
  vcpu.synchronizeInterrupts()
  Trace.exitReturn()
}

/// The exit dispatch: one case per exception class we handle.
@inline(__always)
func dispatchSynchronousExit(_ syndrome: ExceptionSyndrome, frame: UnsafeMutablePointer<TrapFrame>,
                             vcpu: VCpu) -> ExitAction {
  // On the raw EC bits: `ExceptionClass(rawValue:)` is an out-of-line table lookup.
  switch syndrome.exceptionClassBits {
  case ExceptionClass.hvc64.rawValue:
    // HVC: ELR_EL2 already points after the HVC (preferred return address).
    injectDelayIntoHypervisorCall()  // nothing unless built with INJECT_DELAY=hvc (perf-gate test)
    return handleHypervisorCall(frame: frame, viaSMC: false, immediate: syndrome.callImmediate, vcpu: vcpu)
  case ExceptionClass.smc64.rawValue:
    // SMC trapped by HCR_EL2.TSC: ELR_EL2 points at the SMC itself; skip it first.
    skipTrappedInstruction(frame, syndrome)
    return handleHypervisorCall(frame: frame, viaSMC: true, immediate: syndrome.callImmediate, vcpu: vcpu)
  case ExceptionClass.dataAbortLower.rawValue:
    // Stage-2 data abort: emulate MMIO or inject an external abort.
    return handleStage2DataAbort(syndrome, frame: frame, vcpu: vcpu)
  case ExceptionClass.instructionAbortLower.rawValue:
    // Instruction fetch from an IPA without executable memory: external abort to the guest.
    Trace.stage2Fault(ipa: CPU.faultIntermediatePhysicalAddress(), syndrome, outcome: .injectedAbort)
    injectException(.instructionAbort(address: CPU.faultVirtualAddress()), frame: frame, vcpu: vcpu)
    return .resume
  case ExceptionClass.wfx.rawValue:
    // WFI/WFE trapped by HCR_EL2.TWI/TWE.
    return handleWait(syndrome, frame: frame, vcpu: vcpu)
  case ExceptionClass.sysreg.rawValue:
    // MSR/MRS trapped by HCR_EL2.TACR (ACTLR_EL1) and friends.
    return handleSystemRegisterAccess(syndrome, frame: frame, vcpu: vcpu)
  default:
    // Anything else: log PC, ESR and the class name, then UNDEFINED into the guest.
    Console.write("hv: unhandled exit "); Console.write(syndrome.exceptionClassName)
    Console.write(" pc="); Console.write(hex: frame.pointee.elr)
    Console.write(" esr="); Console.write(hex: syndrome.rawValue); Console.write("\r\n")
    injectException(.undefinedInstruction, frame: frame, vcpu: vcpu,
                    instructionLength32: syndrome.instructionLength == 4)
    return .resume
  }
}

/// Advances the guest PC past the trapped instruction (ESR_EL2.IL gives its length).
@inline(__always)
func skipTrappedInstruction(_ frame: UnsafeMutablePointer<TrapFrame>, _ syndrome: ExceptionSyndrome) {
  frame.pointee.elr &+= syndrome.instructionLength
}

/// Carries out a non-resume action; does not return for power off / reset / panic. The trace
/// is completed first: the exit's return is recorded and every open page committed, so the
/// host sees all events up to the end.
func finish(_ action: ExitAction, frame: UnsafeMutablePointer<TrapFrame>, vcpu: VCpu) {
  if action == .resume || action == .resumeReturnTraced { return }
  Trace.exitReturn()
  Tracing.flushAllCPUs()
  switch action {
  case .resume, .resumeReturnTraced:
    return
  case .powerOff:
    printExitSummary(vcpu.vm)
    Tracing.printSummary()
    Console.write("hv: guest requested SYSTEM_OFF, powering off\r\n")
    RunEnd.end(.guestPoweredOff)
  case .reset:
    printExitSummary(vcpu.vm)
    Tracing.printSummary()
    Console.write("hv: guest requested SYSTEM_RESET\r\n")
    RunEnd.end(.guestReset)
  case .panicRequested:
    Console.write("\r\nhv PANIC: requested by the guest (debug hypercall)\r\n")
    printRegisterDump(frame)
    printExitSummary(vcpu.vm)
    Tracing.printSummary()
    Console.write("hv: flight recorder committed at "); Console.write(hex: TraceRegion.physicalBase)
    Console.write(", powering off (keep it with `hvtrace record --keep-ram-file`, read it with `hvtrace snapshot`)\r\n")
    RunEnd.end(.guestRequestedPanic, address: frame.pointee.elr)
  }
}

/// Prints per-class exit counts for every vCPU (one line each).
func printExitSummary(_ vm: VM) {
  for vcpu in vm.vcpus {
    Console.write("hv: vcpu "); Console.write(decimal: UInt64(vcpu.index))
    Console.write(" exits="); Console.write(decimal: vcpu.totalExits)
    Console.write(" irq="); Console.write(decimal: vcpu.interruptExits)
    for ec in 0..<64 where vcpu.exitCounts[ec] != 0 {
      Console.write(" ec"); Console.write(hex: UInt64(ec)); Console.write("=")
      Console.write(decimal: vcpu.exitCounts[ec])
    }
    Console.write("\r\n")
  }
}

/// Guest exceptions we did not expect (FIQ, SError, AArch32): report and stop the guest.
@_cdecl("hv_lower_unexpected")
func handleLowerUnexpected(_ frame: UnsafeMutablePointer<TrapFrame>, _ vector: UInt64) {
  Console.write("hv: unexpected guest exception, vector "); Console.write(decimal: vector)
  Console.write(" pc="); Console.write(hex: frame.pointee.elr)
  Console.write(" esr="); Console.write(hex: CPU.exceptionSyndrome()); Console.write("\r\n")
  printExitSummary(VCpu.current.vm)
  RunEnd.end(.guestUnexpectedException, detail: CPU.exceptionSyndrome(), address: frame.pointee.elr)
}

/// An exception taken at EL2 itself: a hypervisor bug. Dump and stop.
@_cdecl("hv_el2_panic")
func handleHypervisorPanic(_ frame: UnsafeMutablePointer<TrapFrame>, _ vector: UInt64) {
  let syndrome = ExceptionSyndrome(rawValue: CPU.exceptionSyndrome())
  Console.write("\r\nhv PANIC: exception at EL2, vector "); Console.write(decimal: vector)
  Console.write(" ("); Console.write(syndrome.exceptionClassName); Console.write(")\r\n")
  Console.write("  ESR="); Console.write(hex: syndrome.rawValue)
  Console.write(" FAR="); Console.write(hex: CPU.faultVirtualAddress())
  Console.write("\r\n")
  printRegisterDump(frame)
  // Leave the flight recorder readable: commit this CPU's open page (the trace of the exit
  // that led here is in it). Other CPUs' open pages are recovered as uncommitted by snapshot.
  Tracing.flushCurrentCPU()
  // End QEMU so whoever launched it sees the panic at once instead of a hang (hvtrace exits 1).
  Console.write("hv: powering off after the panic\r\n")
  RunEnd.end(.hypervisorPanic, detail: syndrome.rawValue, address: CPU.faultVirtualAddress())
}

/// Prints ELR, SPSR and x0–x30 of `frame`, four registers a line.
func printRegisterDump(_ frame: UnsafeMutablePointer<TrapFrame>) {
  Console.write("  ELR="); Console.write(hex: frame.pointee.elr)
  Console.write(" SPSR="); Console.write(hex: frame.pointee.spsr); Console.write("\r\n")
  for register in 0..<31 {
    Console.write(register % 4 == 0 ? "  x" : " x"); Console.write(decimal: UInt64(register))
    Console.write("="); Console.write(hex: trap_frame_get_x(frame, UInt32(register)))
    if register % 4 == 3 || register == 30 { Console.write("\r\n") }
  }
}

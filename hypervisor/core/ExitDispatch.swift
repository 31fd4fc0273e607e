import CHAL
import TraceFormat

/// What the hypervisor does after handling an exit.
enum ExitAction: Equatable {
  /// Return to the guest (ERET with the possibly updated frame).
  case resume
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
  let vcpu = VCpu.current
  Trace.exitEntry(frame, vcpu: vcpu)
  let syndrome = ExceptionSyndrome(rawValue: CPU.exceptionSyndrome())
  vcpu.exitCounts[Int(syndrome.exceptionClassBits)] &+= 1
  Trace.exitDecoded(syndrome, vcpu: vcpu)
  let action = dispatchSynchronousExit(syndrome, frame: frame, vcpu: vcpu)
  if action != .resume { finish(action, vcpu: vcpu) }
  vcpu.synchronizeInterrupts()
  Trace.exitReturn(frame, vcpu: vcpu)
}

/// The exit dispatch: one case per exception class we handle.
@inline(__always)
func dispatchSynchronousExit(_ syndrome: ExceptionSyndrome, frame: UnsafeMutablePointer<TrapFrame>,
                             vcpu: VCpu) -> ExitAction {
  switch syndrome.exceptionClass {
  case .hvc64:
    // HVC: ELR_EL2 already points after the HVC (preferred return address).
    return handleHypervisorCall(frame: frame, viaSMC: false, vcpu: vcpu)
  case .smc64:
    // SMC trapped by HCR_EL2.TSC: ELR_EL2 points at the SMC itself; skip it first.
    skipTrappedInstruction(frame, syndrome)
    return handleHypervisorCall(frame: frame, viaSMC: true, vcpu: vcpu)
  case .dataAbortLower:
    // Stage-2 data abort: emulate MMIO or inject an external abort.
    return handleStage2DataAbort(syndrome, frame: frame, vcpu: vcpu)
  case .instructionAbortLower:
    // Instruction fetch from an IPA without executable memory: external abort to the guest.
    Trace.stage2Fault(ipa: CPU.faultIntermediatePhysicalAddress(), syndrome: syndrome.rawValue, vcpu: vcpu)
    injectException(.instructionAbort(address: CPU.faultVirtualAddress()), frame: frame, vcpu: vcpu)
    return .resume
  case .wfx:
    // WFI/WFE trapped by HCR_EL2.TWI/TWE.
    return handleWait(syndrome, frame: frame, vcpu: vcpu)
  case .sysreg:
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

/// Carries out a non-resume action; does not return for power off / reset / panic.
func finish(_ action: ExitAction, vcpu: VCpu) {
  switch action {
  case .resume:
    return
  case .powerOff:
    printExitSummary(vcpu.vm)
    Console.write("hv: guest requested SYSTEM_OFF, powering off\r\n")
    Firmware.systemOff()
  case .reset:
    printExitSummary(vcpu.vm)
    Console.write("hv: guest requested SYSTEM_RESET\r\n")
    Firmware.systemReset()
  case .panicRequested:
    Console.write("hv: PANIC requested by guest hypercall\r\n")
    printExitSummary(vcpu.vm)
    CPU.halt()
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
  CPU.halt()
}

/// An exception taken at EL2 itself: a hypervisor bug. Dump and stop.
@_cdecl("hv_el2_panic")
func handleHypervisorPanic(_ frame: UnsafeMutablePointer<TrapFrame>, _ vector: UInt64) {
  let syndrome = ExceptionSyndrome(rawValue: CPU.exceptionSyndrome())
  Console.write("\r\nhv PANIC: exception at EL2, vector "); Console.write(decimal: vector)
  Console.write(" ("); Console.write(syndrome.exceptionClassName); Console.write(")\r\n")
  Console.write("  ESR="); Console.write(hex: syndrome.rawValue)
  Console.write(" ELR="); Console.write(hex: frame.pointee.elr)
  Console.write(" FAR="); Console.write(hex: CPU.faultVirtualAddress())
  Console.write(" SPSR="); Console.write(hex: frame.pointee.spsr); Console.write("\r\n")
  for register in 0..<31 {
    Console.write(register % 4 == 0 ? "  x" : " x"); Console.write(decimal: UInt64(register))
    Console.write("="); Console.write(hex: trap_frame_get_x(frame, UInt32(register)))
    if register % 4 == 3 || register == 30 { Console.write("\r\n") }
  }
  CPU.halt()
}

import CHAL
import TraceFormat

/// Stage-2 data abort: decode the access, route it by IPA to the VM's device models, emulate
/// it and step over the instruction. No syndrome, or an IPA nobody owns: synchronous external
/// abort into the guest (never a hang, never a hypervisor crash).
func handleStage2DataAbort(_ syndrome: ExceptionSyndrome, frame: UnsafeMutablePointer<TrapFrame>,
                           vcpu: VCpu) -> ExitAction {
  let ipa = CPU.faultIntermediatePhysicalAddress()
  let dataAbort = syndrome.dataAbort
  guard let window = vcpu.vm.device(at: ipa) else {
    Trace.stage2Fault(ipa: ipa, syndrome, outcome: .injectedAbort)
    injectException(.dataAbort(address: CPU.faultVirtualAddress(), isWrite: dataAbort.isWrite),
                    frame: frame, vcpu: vcpu)
    return .resume
  }
  let access: MMIOAccess
  do throws(MMIODecodeError) {
    access = try MMIOAccess(syndrome: dataAbort, ipa: ipa)
  } catch {
    Trace.stage2Fault(ipa: ipa, syndrome, outcome: .injectedAbort)
    injectException(.dataAbort(address: CPU.faultVirtualAddress(), isWrite: dataAbort.isWrite),
                    frame: frame, vcpu: vcpu)
    return .resume
  }
  Trace.spanEnter(.mmioEmulation)
  let deviceOffset = access.offset(from: window.base)
  let storeValue = access.storedValue(
    registerContent: trap_frame_get_x(frame, UInt32(access.register)))
  let devicePhase: HandlerPhase? = window.device.traceDevice == .gicDistributor ? .vgicDistributor : nil
  if let devicePhase { Trace.spanEnter(devicePhase) }
  let result = window.device.access(access, offset: deviceOffset, value: storeValue, vcpu: vcpu)
  if let devicePhase { Trace.spanLeave(devicePhase) }
  switch result {
  case .completed(let deviceValue):
    if access.isWrite {
      Trace.mmioAccess(device: window.device.traceDevice, offset: deviceOffset, access, value: storeValue)
    } else {
      let value = access.loadedRegisterValue(deviceValue: deviceValue)
      trap_frame_set_x(frame, UInt32(access.register), value)
      Trace.mmioAccess(device: window.device.traceDevice, offset: deviceOffset, access, value: value)
    }
    skipTrappedInstruction(frame, syndrome)
    Trace.spanLeave(.mmioEmulation)
    Trace.stage2Fault(ipa: ipa, syndrome, outcome: .emulatedMMIO)
  case .unsupported:
    Trace.spanLeave(.mmioEmulation)
    Trace.stage2Fault(ipa: ipa, syndrome, outcome: .injectedAbort)
    injectException(.dataAbort(address: CPU.faultVirtualAddress(), isWrite: access.isWrite),
                    frame: frame, vcpu: vcpu)
  }
  return .resume
}

/// WFI/WFE: step over it; for WFI with nothing pending for the vCPU, wait at EL2 for a physical
/// interrupt: the vCPU's own timer (its CNTV/CNTP keep running), a hardware-linked SPI, or the
/// other CPU's kick. It stays pending and is taken as an IRQ exit as soon as the guest resumes.
func handleWait(_ syndrome: ExceptionSyndrome, frame: UnsafeMutablePointer<TrapFrame>,
                vcpu: VCpu) -> ExitAction {
  Trace.wait(isWaitForEvent: syndrome.isWaitForEvent)
  Trace.spanEnter(.wfx)
  skipTrappedInstruction(frame, syndrome)
  var slept = false
  if !syndrome.isWaitForEvent {
    let gic = vcpu.vm.gic
    gic.synchronize(vcpu)
    slept = !gic.hasPendingInListRegisters(vcpu) && !vcpu.listRegisters.needsRefill
  }
  if slept { CPU.waitForInterrupt() }
  Trace.spanLeave(.wfx)
  return .resume
}

/// Trapped MSR/MRS. ACTLR_EL1 (HCR_EL2.TACR): reads return the real value, writes are
/// ignored (IMPLEMENTATION DEFINED controls stay the hypervisor's). Anything else: UNDEFINED.
func handleSystemRegisterAccess(_ syndrome: ExceptionSyndrome, frame: UnsafeMutablePointer<TrapFrame>,
                                vcpu: VCpu) -> ExitAction {
  let access = syndrome.systemRegister
  Trace.systemRegisterTrap(access)
  if access.register == .auxiliaryControlEL1 {
    Trace.spanEnter(.sysreg)
    if access.isRead {
      trap_frame_set_x(frame, UInt32(access.transferRegister), GuestExceptionRegisters.auxiliaryControl)
    }
    skipTrappedInstruction(frame, syndrome)
    Trace.spanLeave(.sysreg)
    return .resume
  }
  Console.write("hv: unhandled system register access op0="); Console.write(decimal: UInt64(access.op0))
  Console.write(" op1="); Console.write(decimal: UInt64(access.op1))
  Console.write(" CRn="); Console.write(decimal: UInt64(access.crn))
  Console.write(" CRm="); Console.write(decimal: UInt64(access.crm))
  Console.write(" op2="); Console.write(decimal: UInt64(access.op2))
  Console.write(" pc="); Console.write(hex: frame.pointee.elr); Console.write("\r\n")
  injectException(.undefinedInstruction, frame: frame, vcpu: vcpu)
  return .resume
}

import CHAL
import TraceFormat

/// A physical IRQ arrived while a guest ran (exceptions.S, lower-EL IRQ vector). The CPU
/// interface runs with EOImode = 1: EOIR only drops priority. Interrupts forwarded to the guest
/// stay active until the guest's EOI of the virtual interrupt (VirtualGIC retires them on the
/// EOI maintenance interrupt); the hypervisor's own (maintenance, kick) are deactivated here.
@_cdecl("hv_lower_irq_exit")
func handleLowerInterruptExit(_ frame: UnsafeMutablePointer<TrapFrame>) {
  let vcpu = VCpu.current
  Trace.interruptExitEntry(frame, vcpu: vcpu)
  vcpu.interruptExits &+= 1
  let iar = GICCPUInterface.acknowledge()
  let interrupt = iar & 0x3FF
  Trace.physicalInterrupt(iar)
  if interrupt < 1020 {  // 1020-1023: spurious
    Trace.spanEnter(.irqHandling)
    GICCPUInterface.endOfInterrupt(iar)
    handlePhysicalInterrupt(interrupt, iar: iar, vcpu: vcpu)
    Trace.spanLeave(.irqHandling)
  }
  vcpu.synchronizeInterrupts()
  Trace.exitReturn()
}

/// One acknowledged physical interrupt (priority already dropped).
@inline(__always)
func handlePhysicalInterrupt(_ interrupt: UInt32, iar: UInt32, vcpu: VCpu) {
  let gic = vcpu.vm.gic
  if gic.isHardwareLinked(interrupt) {
    // Left active until the guest's EOI of the virtual interrupt.
    Trace.spanEnter(.vgicInjection)
    gic.hardwareInterruptFired(interrupt, vcpu: vcpu)
    Trace.spanLeave(.vgicInjection)
    return
  }
  GICCPUInterface.deactivate(iar)
  switch interrupt {
  case Platform.maintenanceInterrupt, Platform.kickInterrupt:
    // EOI or underflow maintenance, or another CPU's kick: `synchronize` retires and refills
    // the list registers.
    gic.requestRefill(vcpu)
  default:
    Console.write("hv: unexpected physical interrupt "); Console.write(decimal: UInt64(interrupt))
    Console.write("\r\n")
  }
}

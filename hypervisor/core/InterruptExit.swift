import CHAL
import TraceFormat

/// A physical IRQ arrived while a guest ran (exceptions.S, lower-EL IRQ vector). The CPU
/// interface runs with EOImode = 1: EOIR drops priority here; pass-through interrupts stay
/// active until the guest's virtual EOI deactivates them through the LR's HW link.
@_cdecl("hv_lower_irq_exit")
func handleLowerInterruptExit(_ frame: UnsafeMutablePointer<TrapFrame>) {
  let vcpu = VCpu.current
  Trace.interruptExitEntry(frame, vcpu: vcpu)
  vcpu.interruptExits &+= 1
  let iar = GICCPUInterface.acknowledge()
  let interrupt = iar & 0x3FF
  Trace.physicalInterrupt(iar)
  if interrupt >= 1020 {  // spurious
    Trace.exitReturn()
    return
  }
  Trace.spanEnter(.irqHandling)
  GICCPUInterface.endOfInterrupt(iar)
  let vm = vcpu.vm
  if interrupt == Platform.maintenanceInterrupt {
    vcpu.interrupts.refill()
    GICCPUInterface.deactivate(iar)
  } else if vm.ownsInterrupt(interrupt) {
    if vm.distributor.isEnabled(interrupt) {
      Trace.spanEnter(.vgicInjection)
      vcpu.interrupts.inject(interrupt, priority: vm.distributor.priority(interrupt),
                             hardwareInterrupt: interrupt, vcpu: vcpu)
      Trace.spanLeave(.vgicInjection)
    } else {
      // The guest has not enabled it: mask it physically until it does.
      vm.distributor.latch(interrupt)
      GICDistributor.disable(interrupt)
      GICCPUInterface.deactivate(iar)
    }
  } else {
    Console.write("hv: unexpected physical interrupt "); Console.write(decimal: UInt64(interrupt))
    Console.write("\r\n")
    GICCPUInterface.deactivate(iar)
  }
  Trace.spanLeave(.irqHandling)
  Trace.exitReturn()
}

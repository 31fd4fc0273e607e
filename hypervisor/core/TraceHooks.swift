import CHAL

#if canImport(TraceFormat)
import TraceFormat
#endif

/// The tracing seam: every hot-path event of the hypervisor calls one of these, in exactly
/// one place each. They are empty and inlined today, so they cost nothing; the tracing work
/// (issue 5) fills them with writes into the trace region (`TraceRegion` in TraceFormat).
/// Timestamps: `frame.pointee.entryTimestamp` holds CNTPCT_EL0 read first thing on entry.
enum Trace {
  /// Exception entry from the guest, before decoding (`frame` holds the entry timestamp).
  @inline(__always) static func exitEntry(_ frame: UnsafeMutablePointer<TrapFrame>, vcpu: VCpu) {}
  /// Decoded exit: the ESR_EL2 value, once per synchronous exit.
  @inline(__always) static func exitDecoded(_ syndrome: ExceptionSyndrome, vcpu: VCpu) {}
  /// Just before ERET back into the guest.
  @inline(__always) static func exitReturn(_ frame: UnsafeMutablePointer<TrapFrame>, vcpu: VCpu) {}
  /// HVC or SMC dispatch: the function id and what it returned in x0.
  @inline(__always) static func hypervisorCall(functionID: UInt64, result: UInt64, viaSMC: Bool, vcpu: VCpu) {}
  /// A guest trace marker hypercall (x1 = id, x2 = payload).
  @inline(__always) static func guestMarker(id: UInt64, payload: UInt64, vcpu: VCpu) {}
  /// Stage-2 fault at `ipa` (before routing).
  @inline(__always) static func stage2Fault(ipa: UInt64, syndrome: UInt64, vcpu: VCpu) {}
  /// An emulated MMIO access, completed.
  @inline(__always) static func mmioAccess(_ access: MMIOAccess, value: UInt64, vcpu: VCpu) {}
  /// A physical interrupt taken by the hypervisor (IAR value).
  @inline(__always) static func physicalInterrupt(_ iar: UInt32, vcpu: VCpu) {}
  /// A virtual interrupt put into a list register (or queued when none was free).
  @inline(__always) static func virtualInterruptInjected(_ interrupt: UInt32, queued: Bool, vcpu: VCpu) {}
  /// WFI/WFE trapped; `slept` when the hypervisor waited for an interrupt.
  @inline(__always) static func wait(isWaitForEvent: Bool, slept: Bool, vcpu: VCpu) {}
  /// A trapped system-register access.
  @inline(__always) static func systemRegisterTrap(_ access: SystemRegisterAccessSyndrome, vcpu: VCpu) {}
  /// Handler phases, for spans inside one exit.
  @inline(__always) static func spanEnter(_ phase: TracePhase, vcpu: VCpu) {}
  @inline(__always) static func spanLeave(_ phase: TracePhase, vcpu: VCpu) {}
}

/// Handler phases a span can cover.
enum TracePhase: UInt8 {
  case dispatch = 1
  case hypercall = 2
  case mmioEmulation = 3
  case interruptInjection = 4
  case exceptionInjection = 5
  case vcpuSwitch = 6
}

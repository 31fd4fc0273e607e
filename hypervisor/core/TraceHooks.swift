import CHAL
import TraceFormat

/// The tracing seam: every hot-path event of the hypervisor calls one of these, in exactly one
/// place each. Each hook is inlined and costs, with tracing switched off, one load of this
/// CPU's `PerCPU.traceProducer` and one predictable branch; built with `-D HVTRACE_DISABLED`
/// (`make TRACE=0`) every hook is empty and compiles to nothing.
///
/// Record semantics (notes/hvtrace-api.md): each exit is `exitEntry` … handler events …
/// `exitReturn` on the CPU's ring. `exitEntry` carries the timestamp the vector stored in the
/// trap frame before any handler code ran, so handler time is inside the measured latency.
enum Trace {
  /// This CPU's producer while tracing is on; nil while off (or compiled out).
  @inline(__always) static var producer: UnsafeMutablePointer<TraceProducer>? {
    #if HVTRACE_DISABLED
    return nil
    #else
    return PerCPUData.current.pointee.traceProducer?.assumingMemoryBound(to: TraceProducer.self)
    #endif
  }

  /// Records `event` now (trace clock).
  @inline(__always) static func emit(_ event: TraceEvent) {
    #if !HVTRACE_DISABLED
    if let producer { producer.pointee.record(event, timestamp: TraceClock.now()) }
    #endif
  }

  /// The vCPU field of exit and virq records: VM index (0-based, not the VMID) in bits 15:8,
  /// vCPU index in bits 7:0 (`VCpu.traceIdentifier`).
  @inline(__always) static func identifier(_ vcpu: VCpu) -> UInt16 { vcpu.traceIdentifier }

  /// A synchronous exit, decoded: EC and ISS from ESR_EL2, stamped with the vector's timestamp.
  @inline(__always) static func exitEntry(_ frame: UnsafeMutablePointer<TrapFrame>, _ syndrome: ExceptionSyndrome,
                                          vcpu: VCpu) {
    #if !HVTRACE_DISABLED
    if let producer {
      producer.pointee.recordExitEntry(ec: UInt8(truncatingIfNeeded: syndrome.rawValue >> 26),
                                       iss: UInt32(truncatingIfNeeded: syndrome.rawValue) & 0x1FF_FFFF,
                                       vcpu: vcpu.traceIdentifierVarint, timestamp: frame.pointee.entryTimestamp)
    }
    #endif
  }

  /// A physical-IRQ exit (EC `AsynchronousExit.irq`, ISS 0), stamped with the vector's timestamp.
  @inline(__always) static func interruptExitEntry(_ frame: UnsafeMutablePointer<TrapFrame>, vcpu: VCpu) {
    #if !HVTRACE_DISABLED
    if let producer {
      producer.pointee.recordExitEntry(ec: AsynchronousExit.irq.rawValue, iss: 0, vcpu: vcpu.traceIdentifierVarint,
                                       timestamp: frame.pointee.entryTimestamp)
    }
    #endif
  }

  /// Just before returning to the guest (the restore and ERET follow in exceptions.S).
  @inline(__always) static func exitReturn() { emit(.exitReturn) }

  /// HVC or SMC dispatch: the instruction's immediate (ESR ISS[15:0]) and the SMCCC function id.
  @inline(__always) static func hypercall(functionID: UInt64, immediate: UInt16, viaSMC: Bool) {
    emit(.hypercall(conduit: viaSMC ? .smc : .hvc, immediate: immediate,
                    functionID: UInt32(truncatingIfNeeded: functionID)))
  }

  /// A hypercall answered on a fast path that returns straight to the guest: the dispatch, its
  /// result and the exit's return at one instant (one clock read, one producer update; the
  /// result and return carry delta 0). The caller returns `.resumeReturnTraced`.
  @inline(__always) static func hypercallCompletedExit(functionID: UInt64, immediate: UInt16, viaSMC: Bool,
                                                       result: UInt64) {
    #if !HVTRACE_DISABLED
    if let producer {
      producer.pointee.record(.hypercall(conduit: viaSMC ? .smc : .hvc, immediate: immediate,
                                         functionID: UInt32(truncatingIfNeeded: functionID)),
                              .hypercallResult(Int64(bitPattern: result)), .exitReturn, timestamp: TraceClock.now())
    }
    #endif
  }

  /// The whole null-hypercall exit (HVC, function id `functionID`, result 0) in one producer
  /// update: its entry (the vector's timestamp), the call, the result and the return (now; the
  /// last two with delta 0). The same four records `exitEntry` + `hypercallCompletedExit` write.
  @inline(__always) static func nullHypercallExit(_ frame: UnsafeMutablePointer<TrapFrame>,
                                                  _ syndrome: ExceptionSyndrome, vcpu: VCpu,
                                                  functionID: UInt64) {
    #if !HVTRACE_DISABLED
    if let producer {
      producer.pointee.recordExitEntry(ec: UInt8(truncatingIfNeeded: syndrome.rawValue >> 26),
                                       iss: UInt32(truncatingIfNeeded: syndrome.rawValue) & 0x1FF_FFFF,
                                       vcpu: vcpu.traceIdentifierVarint, timestamp: frame.pointee.entryTimestamp,
                                       then: .hypercall(conduit: .hvc, immediate: syndrome.callImmediate,
                                                        functionID: UInt32(truncatingIfNeeded: functionID)),
                                       .hypercallResult(0), .exitReturn, timestamp: TraceClock.now())
    }
    #endif
  }

  /// What the call returned in x0 (signed: SMCCC errors are negative).
  @inline(__always) static func hypercallResult(_ result: UInt64) {
    emit(.hypercallResult(Int64(bitPattern: result)))
  }

  /// A guest trace marker (marker hypercall: x1 = id, x2 = value).
  @inline(__always) static func guestMarker(id: UInt64, value: UInt64) {
    emit(.guestMarker(id: UInt32(truncatingIfNeeded: id), value: value))
  }

  /// A stage-2 abort and what was done with it.
  @inline(__always) static func stage2Fault(ipa: UInt64, _ syndrome: ExceptionSyndrome, outcome: Stage2Outcome) {
    let iss = syndrome.rawValue
    // ISS for data aborts (Arm ARM D17.2.37): ISV 24, SAS 23:22, SSE 21, WnR 6.
    let access = AccessInfo(sizeLog2: UInt8((iss >> 22) & 3), isWrite: iss & (1 << 6) != 0,
                            syndromeValid: iss & (1 << 24) != 0, signExtend: iss & (1 << 21) != 0)
    emit(.stage2Fault(ipa: ipa, access: access, outcome: outcome))
  }

  /// An emulated MMIO access, completed: device, offset inside it, access, value read or written.
  @inline(__always) static func mmioAccess(device: MMIODevice, offset: UInt64, _ access: MMIOAccess, value: UInt64) {
    let sizeLog2: UInt8 = access.sizeInBytes == 8 ? 3 : access.sizeInBytes == 4 ? 2 : access.sizeInBytes == 2 ? 1 : 0
    emit(.mmioAccess(device: device.rawValue, offset: UInt32(truncatingIfNeeded: offset),
                     access: AccessInfo(sizeLog2: sizeLog2, isWrite: access.isWrite, signExtend: access.signExtend),
                     value: value))
  }

  /// A physical interrupt acknowledged at EL2 (INTID from GICC_IAR).
  @inline(__always) static func physicalInterrupt(_ iar: UInt32) {
    emit(.physicalIRQ(intid: UInt16(truncatingIfNeeded: iar & 0x3FF)))
  }

  /// A virtual interrupt put into a list register (or queued when none was free).
  @inline(__always) static func virtualInterruptInjected(_ interrupt: UInt32, vcpu: VCpu) {
    emit(.virtualIRQ(intid: UInt16(truncatingIfNeeded: interrupt), vcpu: identifier(vcpu)))
  }

  /// A trapped WFI or WFE.
  @inline(__always) static func wait(isWaitForEvent: Bool) {
    emit(.waitForInterrupt(isWaitForEvent ? .wfe : .wfi))
  }

  /// A trapped MSR/MRS (the encoding from ISS, Arm ARM D17.2.37 EC 0x18).
  @inline(__always) static func systemRegisterTrap(_ access: SystemRegisterAccessSyndrome) {
    let key = SysregEncoding.fromISS(access.iss)
    emit(.sysregTrap(encoding: key.encoding, isWrite: key.isWrite))
  }

  /// Handler phases (TraceFormat's `HandlerPhase`): properly nested spans inside one exit.
  @inline(__always) static func spanEnter(_ phase: HandlerPhase) { emit(.spanEnter(phase: phase.rawValue)) }
  @inline(__always) static func spanLeave(_ phase: HandlerPhase) { emit(.spanLeave(phase: phase.rawValue)) }
}

extension EmulatedDevice {
  /// The id `mmio` records carry for this device model.
  var traceDevice: MMIODevice {
    switch self {
    case .distributor: return .gicDistributor
    case .probeTestDevice: return .probeDevice
    }
  }
}

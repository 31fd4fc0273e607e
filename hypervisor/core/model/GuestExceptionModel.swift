import TraceFormat

// What an exception injected into a guest at EL1 looks like (Arm ARM D1.10 "Exception entry",
// table D1-7 vector offsets). Pure: core/ExceptionInjection.swift applies it.

/// Exception kinds the hypervisor injects.
enum InjectedException: Equatable {
  /// UNDEFINED instruction (ESR EC 0x00).
  case undefinedInstruction
  /// Synchronous external abort on a data access at virtual address `address`.
  case dataAbort(address: UInt64, isWrite: Bool)
  /// Synchronous external abort on an instruction fetch at `address`.
  case instructionAbort(address: UInt64)
}

/// Where and how the guest's EL1 takes an injected synchronous exception.
struct GuestExceptionEntry: Equatable {
  /// Offset from VBAR_EL1.
  let vectorOffset: UInt64
  /// ESR_EL1 value.
  let syndrome: UInt64
  /// FAR_EL1 value, or nil when FAR is UNKNOWN for this exception.
  let faultAddress: UInt64?
  /// PSTATE on entry: EL1h, D A I F masked.
  static let entryState: UInt64 = 0x3C5

  /// `guestState` is the SPSR_EL2 the guest had (its PSTATE when it trapped).
  init(_ exception: InjectedException, guestState: UInt64, instructionLength32: Bool = true) {
    let mode = guestState & 0xF  // M[3:0]
    let fromEL0 = mode == 0
    // D1.10.2: current EL with SP_EL0 → 0x000, current EL with SP_ELx → 0x200,
    // lower EL using AArch64 → 0x400 (synchronous exception: +0x0).
    vectorOffset = fromEL0 ? 0x400 : (mode & 1 == 1 ? 0x200 : 0x000)
    switch exception {
    case .undefinedInstruction:
      syndrome = ExceptionSyndrome(exceptionClass: .unknown,
                                   instructionLength32: instructionLength32).rawValue
      faultAddress = nil
    case .dataAbort(let address, let isWrite):
      // DFSC 0b010000: synchronous external abort, not on a translation table walk.
      let iss: UInt32 = 0x10 | (isWrite ? 1 << 6 : 0)
      syndrome = ExceptionSyndrome(
        exceptionClass: fromEL0 ? .dataAbortLower : .dataAbortCurrent, iss: iss
      ).rawValue
      faultAddress = address
    case .instructionAbort(let address):
      syndrome = ExceptionSyndrome(
        exceptionClass: fromEL0 ? .instructionAbortLower : .instructionAbortCurrent,
        iss: 0x10
      ).rawValue
      faultAddress = address
    }
  }
}

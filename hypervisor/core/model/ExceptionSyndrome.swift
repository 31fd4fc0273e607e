// Pure decoding of ESR_EL2 (Arm ARM DDI 0487, D17.2.37 "ESR_EL2, Exception Syndrome Register
// (EL2)"). No hardware access: the host test target compiles this file too. The exception
// classes themselves are TraceFormat's `ExceptionClass` (one table for hypervisor and reports).
import TraceFormat

/// ESR_EL2 split into EC, IL and ISS.
struct ExceptionSyndrome: Equatable {
  let rawValue: UInt64

  init(rawValue: UInt64) { self.rawValue = rawValue }

  /// EC, bits [31:26].
  var exceptionClassBits: UInt8 { UInt8((rawValue >> 26) & 0x3F) }
  /// The named class, or nil for EC values the table does not name (reserved / newer).
  var exceptionClass: ExceptionClass? { ExceptionClass(rawValue: exceptionClassBits) }
  /// The class's name for logs ("UNRECOGNIZED" for unnamed values).
  var exceptionClassName: StaticString { exceptionClass?.name ?? "UNRECOGNIZED" }
  /// IL, bit 25: the trapped instruction is 32 bits (1) or 16 bits (0).
  var instructionLength: UInt64 { (rawValue >> 25) & 1 == 1 ? 4 : 2 }
  /// ISS, bits [24:0].
  var instructionSpecificSyndrome: UInt32 { UInt32(rawValue & 0x1FF_FFFF) }
  /// For HVC/SMC: the 16-bit immediate, ISS[15:0].
  var callImmediate: UInt16 { UInt16(rawValue & 0xFFFF) }
  /// For WFI/WFE: ISS.TI, bits [1:0] (0 = WFI, 1 = WFE; 2/3 = WFIT/WFET).
  var isWaitForEvent: Bool { rawValue & 1 == 1 }

  var dataAbort: DataAbortSyndrome { DataAbortSyndrome(iss: instructionSpecificSyndrome) }
  var systemRegister: SystemRegisterAccessSyndrome {
    SystemRegisterAccessSyndrome(iss: instructionSpecificSyndrome)
  }

  /// Builds an ESR value (for injecting exceptions into a guest, and for tests).
  init(exceptionClass: ExceptionClass, instructionLength32: Bool = true, iss: UInt32 = 0) {
    rawValue = UInt64(exceptionClass.rawValue) << 26 | (instructionLength32 ? 1 << 25 : 0)
      | UInt64(iss & 0x1FF_FFFF)
  }
}

/// ISS of a data abort (Arm ARM D17.2.37, "ISS encoding for an exception from a Data Abort").
struct DataAbortSyndrome: Equatable {
  let iss: UInt32

  /// ISV, bit 24: bits [23:14] hold a valid instruction syndrome.
  var isValid: Bool { iss & (1 << 24) != 0 }
  /// SAS, bits [23:22]: access size, 1 << SAS bytes.
  var accessSizeInBytes: Int { 1 << Int((iss >> 22) & 3) }
  /// SSE, bit 21: the load sign-extends.
  var signExtends: Bool { iss & (1 << 21) != 0 }
  /// SRT, bits [20:16]: the transfer register (31 = XZR).
  var transferRegister: Int { Int((iss >> 16) & 0x1F) }
  /// SF, bit 15: the transfer register is 64-bit (Xt) rather than 32-bit (Wt).
  var sixtyFourBitRegister: Bool { iss & (1 << 15) != 0 }
  /// AR, bit 14: acquire/release semantics.
  var acquireRelease: Bool { iss & (1 << 14) != 0 }
  /// EA, bit 9: external abort type.
  var externalAbort: Bool { iss & (1 << 9) != 0 }
  /// CM, bit 8: the fault came from a cache maintenance instruction.
  var cacheMaintenance: Bool { iss & (1 << 8) != 0 }
  /// S1PTW, bit 7: the fault was on a stage-1 translation table walk.
  var stage1TableWalk: Bool { iss & (1 << 7) != 0 }
  /// WnR, bit 6: the access was a write.
  var isWrite: Bool { iss & (1 << 6) != 0 }
  /// DFSC, bits [5:0]: data fault status code.
  var faultStatusCode: UInt8 { UInt8(iss & 0x3F) }
  /// DFSC 0b0001LL: translation fault at level LL.
  var isTranslationFault: Bool { faultStatusCode & 0x3C == 0x04 }
  /// DFSC 0b0011LL: permission fault at level LL.
  var isPermissionFault: Bool { faultStatusCode & 0x3C == 0x0C }
}

/// ISS of a trapped MSR/MRS/system instruction, EC 0x18 (Arm ARM D17.2.37, "ISS encoding for an
/// exception from MSR, MRS, or System instruction execution in AArch64 state").
struct SystemRegisterAccessSyndrome: Equatable {
  let iss: UInt32

  var op0: UInt8 { UInt8((iss >> 20) & 3) }
  var op2: UInt8 { UInt8((iss >> 17) & 7) }
  var op1: UInt8 { UInt8((iss >> 14) & 7) }
  var crn: UInt8 { UInt8((iss >> 10) & 0xF) }
  /// Rt, bits [9:5].
  var transferRegister: Int { Int((iss >> 5) & 0x1F) }
  var crm: UInt8 { UInt8((iss >> 1) & 0xF) }
  /// Direction, bit 0: 1 = read (MRS), 0 = write (MSR).
  var isRead: Bool { iss & 1 == 1 }
  /// The register identity without Rt and direction, for matching against `SystemRegister`.
  var register: SystemRegister {
    SystemRegister(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2)
  }
}

/// A system register's encoding (op0, op1, CRn, CRm, op2).
struct SystemRegister: Equatable {
  let op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8

  /// ACTLR_EL1: S3_0_C1_C0_1, trapped by HCR_EL2.TACR.
  static let auxiliaryControlEL1 = SystemRegister(op0: 3, op1: 0, crn: 1, crm: 0, op2: 1)
}

import Testing
import TraceFormat
@testable import HypervisorModel

/// ESR_EL2 values as the hardware reports them, and what they must decode to.
struct SyndromeVector: Sendable, CustomStringConvertible {
  let esr: UInt64
  let exceptionClass: ExceptionClass?
  let instructionLength: UInt64
  var description: String { "ESR 0x" + String(esr, radix: 16) }
}

@Test("ESR_EL2 decodes to the exception class and instruction length", arguments: [
  SyndromeVector(esr: 0x5A00_0000, exceptionClass: .hvc64, instructionLength: 4),
  SyndromeVector(esr: 0x5E00_0000, exceptionClass: .smc64, instructionLength: 4),
  SyndromeVector(esr: 0x9200_0046, exceptionClass: .dataAbortLower, instructionLength: 4),
  SyndromeVector(esr: 0x9000_0046, exceptionClass: .dataAbortLower, instructionLength: 2),
  SyndromeVector(esr: 0x0600_0000, exceptionClass: .wfx, instructionLength: 4),
  SyndromeVector(esr: 0x6232_0C61, exceptionClass: .sysreg, instructionLength: 4),
  SyndromeVector(esr: 0x8200_000F, exceptionClass: .instructionAbortLower, instructionLength: 4),
  SyndromeVector(esr: 0x0200_0000, exceptionClass: .unknown, instructionLength: 4),
  SyndromeVector(esr: 0x2E00_0000, exceptionClass: nil, instructionLength: 4),  // EC 0x0B: reserved
])
func decodesExceptionClass(_ vector: SyndromeVector) {
  let syndrome = ExceptionSyndrome(rawValue: vector.esr)
  #expect(syndrome.exceptionClass == vector.exceptionClass)
  #expect(syndrome.instructionLength == vector.instructionLength)
}

@Test("HVC immediate comes from ISS[15:0]")
func hypervisorCallImmediate() {
  #expect(ExceptionSyndrome(rawValue: 0x5A00_1234).callImmediate == 0x1234)
}

@Test("Building an ESR round-trips through decoding", arguments: [
  ExceptionClass.unknown, .dataAbortCurrent, .instructionAbortCurrent, .hvc64,
])
func buildsSyndrome(_ exceptionClass: ExceptionClass) {
  let syndrome = ExceptionSyndrome(exceptionClass: exceptionClass, iss: 0x10)
  #expect(syndrome.exceptionClass == exceptionClass)
  #expect(syndrome.instructionSpecificSyndrome == 0x10)
  #expect(syndrome.instructionLength == 4)
}

/// Data-abort ISS fields (Arm ARM D17.2.37).
struct DataAbortVector: Sendable, CustomStringConvertible {
  let iss: UInt32
  let valid: Bool, size: Int, signExtends: Bool, register: Int, sixtyFour: Bool, write: Bool
  var description: String { "ISS 0x" + String(iss, radix: 16) }
}

@Test("Data abort ISS fields decode", arguments: [
  // ISV, SAS=2 (word), SRT=5, WnR, DFSC=translation level 3
  DataAbortVector(iss: 1 << 24 | 2 << 22 | 5 << 16 | 1 << 6 | 0x07, valid: true, size: 4,
                  signExtends: false, register: 5, sixtyFour: false, write: true),
  // ISV, SAS=0 (byte), SSE, SRT=30, SF: ldrsb x30
  DataAbortVector(iss: 1 << 24 | 0 << 22 | 1 << 21 | 30 << 16 | 1 << 15 | 0x07, valid: true,
                  size: 1, signExtends: true, register: 30, sixtyFour: true, write: false),
  // ISV, SAS=3 (doubleword), SRT=31 (xzr), SF, write
  DataAbortVector(iss: 1 << 24 | 3 << 22 | 31 << 16 | 1 << 15 | 1 << 6 | 0x06, valid: true,
                  size: 8, signExtends: false, register: 31, sixtyFour: true, write: true),
  // no ISV (e.g. ldp)
  DataAbortVector(iss: 0x07, valid: false, size: 1, signExtends: false, register: 0,
                  sixtyFour: false, write: false),
])
func decodesDataAbort(_ vector: DataAbortVector) {
  let abort = DataAbortSyndrome(iss: vector.iss)
  #expect(abort.isValid == vector.valid)
  #expect(abort.accessSizeInBytes == vector.size)
  #expect(abort.signExtends == vector.signExtends)
  #expect(abort.transferRegister == vector.register)
  #expect(abort.sixtyFourBitRegister == vector.sixtyFour)
  #expect(abort.isWrite == vector.write)
  #expect(abort.isTranslationFault)
}

@Test("MRS x3, ACTLR_EL1 decodes to the register, Rt and direction")
func decodesSystemRegisterAccess() {
  // op0=3 [21:20], op2=1 [19:17], op1=0 [16:14], CRn=1 [13:10], Rt=3 [9:5], CRm=0 [4:1], read
  let iss: UInt32 = 3 << 20 | 1 << 17 | 0 << 14 | 1 << 10 | 3 << 5 | 0 << 1 | 1
  let access = SystemRegisterAccessSyndrome(iss: iss)
  #expect(access.register == .auxiliaryControlEL1)
  #expect(access.transferRegister == 3)
  #expect(access.isRead)
  #expect(!SystemRegisterAccessSyndrome(iss: iss & ~1).isRead)
}

import Testing
@testable import HypervisorModel

/// A device value read by a load of a given shape, and the register value that must result.
struct LoadVector: Sendable, CustomStringConvertible {
  let size: Int, signExtend: Bool, sixtyFour: Bool
  let deviceValue: UInt64, expected: UInt64
  var description: String { "\(size)B sse=\(signExtend) sf=\(sixtyFour)" }
}

@Test("Loaded values are truncated, sign-extended and limited to Wt as the syndrome says", arguments: [
  LoadVector(size: 1, signExtend: false, sixtyFour: false, deviceValue: 0x1234_5680, expected: 0x80),
  LoadVector(size: 1, signExtend: true, sixtyFour: true, deviceValue: 0x80, expected: 0xFFFF_FFFF_FFFF_FF80),
  LoadVector(size: 1, signExtend: true, sixtyFour: false, deviceValue: 0x80, expected: 0xFFFF_FF80),
  LoadVector(size: 2, signExtend: true, sixtyFour: true, deviceValue: 0x8080, expected: 0xFFFF_FFFF_FFFF_8080),
  LoadVector(size: 2, signExtend: true, sixtyFour: true, deviceValue: 0x7080, expected: 0x7080),
  LoadVector(size: 4, signExtend: true, sixtyFour: true, deviceValue: 0x8080_8080, expected: 0xFFFF_FFFF_8080_8080),
  LoadVector(size: 4, signExtend: false, sixtyFour: false, deviceValue: 0xFFFF_FFFF_8080_8080, expected: 0x8080_8080),
  LoadVector(size: 8, signExtend: false, sixtyFour: true, deviceValue: 0x8000_0000_0000_0001, expected: 0x8000_0000_0000_0001),
])
func loadedRegisterValue(_ vector: LoadVector) {
  let access = MMIOAccess(ipa: 0x0B00_0000, sizeInBytes: vector.size, isWrite: false, register: 1,
                          signExtend: vector.signExtend, sixtyFourBitRegister: vector.sixtyFour)
  #expect(access.loadedRegisterValue(deviceValue: vector.deviceValue) == vector.expected)
}

@Test("Stores take the access width from the register; XZR stores zero", arguments: [
  (1, 3, UInt64(0x1122_3344_5566_7788), UInt64(0x88)),
  (2, 3, 0x1122_3344_5566_7788, 0x7788),
  (4, 3, 0x1122_3344_5566_7788, 0x5566_7788),
  (8, 3, 0x1122_3344_5566_7788, 0x1122_3344_5566_7788),
  (8, 31, 0x1122_3344_5566_7788, 0),
])
func storedValue(size: Int, register: Int, content: UInt64, expected: UInt64) {
  let access = MMIOAccess(ipa: 0, sizeInBytes: size, isWrite: true, register: register)
  #expect(access.storedValue(registerContent: content) == expected)
}

@Test("Decoding from a syndrome carries every field; no ISV is an error naming the IPA")
func decodeFromSyndrome() throws {
  let iss: UInt32 = 1 << 24 | 1 << 22 | 1 << 21 | 7 << 16 | 1 << 15 | 0x07  // ldrsh x7
  let access = try MMIOAccess(syndrome: DataAbortSyndrome(iss: iss), ipa: 0x0800_0104)
  #expect(access == MMIOAccess(ipa: 0x0800_0104, sizeInBytes: 2, isWrite: false, register: 7,
                               signExtend: true, sixtyFourBitRegister: true))
  #expect(access.offset(from: 0x0800_0000) == 0x104)
  #expect(throws: MMIODecodeError.noInstructionSyndrome(ipa: 0x0800_0000)) {
    try MMIOAccess(syndrome: DataAbortSyndrome(iss: 0x07), ipa: 0x0800_0000)
  }
  #expect(throws: MMIODecodeError.stage1TableWalk(ipa: 0x10)) {
    try MMIOAccess(syndrome: DataAbortSyndrome(iss: 1 << 24 | 1 << 7 | 0x07), ipa: 0x10)
  }
}

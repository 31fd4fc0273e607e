import Testing
@testable import HypervisorModel

/// Expected descriptor bits (Arm ARM D8.3): worked out by hand from the field layout.
struct DescriptorVector: Sendable, CustomStringConvertible {
  let level: Int, address: UInt64, type: Stage2MemoryType, permissions: Stage2Permissions
  let expected: UInt64
  var description: String { "L\(level) 0x" + String(address, radix: 16) }
}

@Test("Leaf descriptors encode type, S2AP, SH, AF and XN", arguments: [
  // 2 MiB block of normal WB RAM, RWX: 0b01 | MemAttr 0xF<<2 | S2AP 3<<6 | SH 3<<8 | AF
  DescriptorVector(level: 2, address: 0x5000_0000, type: .normalWriteBack,
                   permissions: .readWriteExecute, expected: 0x5000_07FD),
  // 4 KiB device page RW, XN: 0b11 | MemAttr 1<<2 | S2AP 3<<6 | AF | XN
  DescriptorVector(level: 3, address: 0x0804_0000, type: .device, permissions: .readWrite,
                   expected: 0x0040_0000_0804_04C7),
  // 1 GiB read-only normal block, XN
  DescriptorVector(level: 1, address: 0x4000_0000, type: .normalWriteBack, permissions: .readOnly,
                   expected: 0x0040_0000_4000_077D),
])
func leafDescriptor(_ vector: DescriptorVector) {
  let descriptor = Stage2Descriptor.leaf(level: vector.level, outputAddress: vector.address,
                                         memoryType: vector.type, permissions: vector.permissions)
  #expect(descriptor.rawValue == vector.expected)
  #expect(descriptor.outputAddress == vector.address)
  #expect(descriptor.permissions == vector.permissions)
  #expect(descriptor.memoryAttributes == vector.type.rawValue)
}

@Test("Table descriptors keep only the table address and set 0b11")
func tableDescriptor() {
  let descriptor = Stage2Descriptor.table(at: 0x4700_1000)
  #expect(descriptor.rawValue == 0x4700_1003)
  #expect(descriptor.isTableOrPage && descriptor.isValid)
}

@Test("Table index takes 9 bits per level", arguments: [
  (UInt64(0x4008_0000), 1, 1), (0x4008_0000, 2, 0), (0x4008_0000, 3, 0x80),
  (0x0801_0000, 1, 0), (0x0801_0000, 2, 0x40), (0x0801_0000, 3, 0x10), (0xFFFF_F000, 3, 0x1FF),
])
func tableIndex(ipa: UInt64, level: Int, expected: Int) {
  #expect(stage2TableIndex(ipa: ipa, level: level) == expected)
}

@Test("VTCR_EL2 follows the IPA size and ID_AA64MMFR0.PARange", arguments: [
  (32, UInt8(2), UInt64(0x8002_3560)),  // 40-bit PA
  (32, 4, 0x8004_3560),  // 44-bit PA (QEMU cortex-a72)
  (39, 5, 0x8005_3559),  // 39-bit IPA, 48-bit PA
  (40, 0, 0x8000_3560),  // 32-bit PA: IPA clamped to 32 bits
])
func translationControl(ipaBits: Int, parange: UInt8, expected: UInt64) throws {
  let control = try Stage2TranslationControl(ipaBits: min(ipaBits, 39), parange: parange)
  #expect(control.rawValue == expected)
}

@Test("Unknown PARange and unsupported IPA sizes are typed errors")
func translationControlErrors() {
  #expect(throws: Stage2ConfigurationError.unknownPhysicalAddressRange(field: 9)) {
    try Stage2TranslationControl(ipaBits: 32, parange: 9)
  }
  #expect(throws: Stage2ConfigurationError.unsupportedIPASize(bits: 48)) {
    try Stage2TranslationControl(ipaBits: 48, parange: 5)
  }
}

@Test("VTTBR_EL2 carries the VMID in bits [55:48]")
func tableBaseRegister() {
  #expect(stage2TableBaseRegister(tableAddress: 0x4700_0000, vmid: 1) == 0x0001_0000_4700_0000)
  #expect(stage2TableBaseRegister(tableAddress: 0x4700_0000, vmid: 0xFF) == 0x00FF_0000_4700_0000)
}

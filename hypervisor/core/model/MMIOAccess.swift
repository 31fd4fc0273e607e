// Decoding a trapped guest load/store into an emulated device access. Pure logic.

/// Why a stage-2 data abort cannot be emulated.
enum MMIODecodeError: Error, Equatable {
  /// ESR.ISV = 0 (e.g. load/store pair, writeback): no syndrome to emulate from.
  case noInstructionSyndrome(ipa: UInt64)
  /// The fault is on a stage-1 table walk, not on the access itself.
  case stage1TableWalk(ipa: UInt64)
  /// Cache maintenance on device memory: nothing to emulate.
  case cacheMaintenance(ipa: UInt64)
}

/// One guest access to an emulated device: what the trapped instruction wanted.
struct MMIOAccess: Equatable {
  /// The faulting intermediate physical address.
  let ipa: UInt64
  /// 1, 2, 4 or 8 bytes.
  let sizeInBytes: Int
  let isWrite: Bool
  /// Guest register number (0–30; 31 = XZR).
  let register: Int
  let signExtend: Bool
  let sixtyFourBitRegister: Bool

  init(ipa: UInt64, sizeInBytes: Int, isWrite: Bool, register: Int, signExtend: Bool = false,
       sixtyFourBitRegister: Bool = true) {
    self.ipa = ipa
    self.sizeInBytes = sizeInBytes
    self.isWrite = isWrite
    self.register = register
    self.signExtend = signExtend
    self.sixtyFourBitRegister = sixtyFourBitRegister
  }

  /// Decodes the data-abort syndrome of an access at `ipa`.
  init(syndrome: DataAbortSyndrome, ipa: UInt64) throws(MMIODecodeError) {
    guard syndrome.isValid else { throw .noInstructionSyndrome(ipa: ipa) }
    guard !syndrome.stage1TableWalk else { throw .stage1TableWalk(ipa: ipa) }
    guard !syndrome.cacheMaintenance else { throw .cacheMaintenance(ipa: ipa) }
    self.init(ipa: ipa, sizeInBytes: syndrome.accessSizeInBytes, isWrite: syndrome.isWrite,
              register: syndrome.transferRegister, signExtend: syndrome.signExtends,
              sixtyFourBitRegister: syndrome.sixtyFourBitRegister)
  }

  /// Mask of the access width.
  var widthMask: UInt64 { sizeInBytes >= 8 ? ~0 : (1 << UInt64(sizeInBytes * 8)) - 1 }

  /// The value a store writes, from the guest register's content (XZR reads as zero).
  func storedValue(registerContent: UInt64) -> UInt64 {
    register == 31 ? 0 : registerContent & widthMask
  }

  /// The value to put in the guest register for a load that read `deviceValue`: truncated to
  /// the access width, sign-extended when SSE is set, and limited to 32 bits for a Wt register
  /// (Arm ARM: "if SF is 0 the upper 32 bits are cleared").
  func loadedRegisterValue(deviceValue: UInt64) -> UInt64 {
    var value = deviceValue & widthMask
    if signExtend && sizeInBytes < 8 {
      let signBit: UInt64 = 1 << UInt64(sizeInBytes * 8 - 1)
      if value & signBit != 0 { value |= ~widthMask }
    }
    if !sixtyFourBitRegister { value &= 0xFFFF_FFFF }
    return value
  }

  /// The access's offset into a device window starting at `base`.
  func offset(from base: UInt64) -> UInt64 { ipa &- base }
}

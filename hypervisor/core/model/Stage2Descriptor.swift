// Stage-2 translation table descriptors and control values (Arm ARM D8.3 "Translation table
// descriptor formats", D8.5.5 "Stage 2 memory type and Cacheability attributes", D17.2.151
// VTCR_EL2, D17.2.152 VTTBR_EL2). 4 KiB granule. Pure encoding: no table memory here.

/// Memory type of a stage-2 mapping: MemAttr, descriptor bits [5:2].
enum Stage2MemoryType: UInt64 {
  /// Device-nGnRE (MemAttr 0b0001).
  case device = 0b0001
  /// Normal, Outer and Inner Write-Back Cacheable (MemAttr 0b1111).
  case normalWriteBack = 0b1111
  /// Normal Non-cacheable (MemAttr 0b0101).
  case normalNonCacheable = 0b0101
}

/// Stage-2 access permissions: S2AP, bits [7:6], plus execute-never (XN, bit 54).
struct Stage2Permissions: Equatable {
  var read: Bool
  var write: Bool
  var execute: Bool

  static let readWriteExecute = Stage2Permissions(read: true, write: true, execute: true)
  static let readWrite = Stage2Permissions(read: true, write: true, execute: false)
  static let readOnly = Stage2Permissions(read: true, write: false, execute: false)
}

/// One 64-bit stage-2 descriptor.
struct Stage2Descriptor: Equatable {
  let rawValue: UInt64

  static let invalid = Stage2Descriptor(rawValue: 0)
  /// Output address bits [47:12].
  static let outputAddressMask: UInt64 = 0x0000_FFFF_FFFF_F000

  /// Largest block at each level for a 4 KiB granule (level 1: 1 GiB, level 2: 2 MiB,
  /// level 3 pages: 4 KiB). Level 0 cannot hold a block.
  static func mappingSize(level: Int) -> UInt64 {
    switch level {
    case 1: 1 << 30
    case 2: 1 << 21
    case 3: 1 << 12
    default: 0
    }
  }

  /// A table descriptor (bits [1:0] = 0b11) pointing at the next-level table at `tableAddress`.
  static func table(at tableAddress: UInt64) -> Stage2Descriptor {
    Stage2Descriptor(rawValue: (tableAddress & outputAddressMask) | 0b11)
  }

  /// A block (levels 1–2, bits [1:0] = 0b01) or page (level 3, 0b11) descriptor mapping
  /// `outputAddress` with the given type and permissions; Access Flag set; inner-shareable
  /// for normal memory.
  static func leaf(level: Int, outputAddress: UInt64, memoryType: Stage2MemoryType,
                   permissions: Stage2Permissions) -> Stage2Descriptor {
    var value = outputAddress & outputAddressMask
    value |= level == 3 ? 0b11 : 0b01
    value |= memoryType.rawValue << 2
    value |= (permissions.read ? 1 : 0) << 6 | (permissions.write ? 1 : 0) << 7
    value |= memoryType == .device ? 0 : 0b11 << 8  // SH: inner shareable
    value |= 1 << 10  // AF
    if !permissions.execute { value |= 1 << 54 }  // XN
    return Stage2Descriptor(rawValue: value)
  }

  var isValid: Bool { rawValue & 1 == 1 }
  /// At levels 0–2: true for a table descriptor; at level 3 0b11 is a page.
  var isTableOrPage: Bool { rawValue & 0b11 == 0b11 }
  var outputAddress: UInt64 { rawValue & Stage2Descriptor.outputAddressMask }
  var memoryAttributes: UInt64 { (rawValue >> 2) & 0xF }
  var permissions: Stage2Permissions {
    Stage2Permissions(read: rawValue & (1 << 6) != 0, write: rawValue & (1 << 7) != 0,
                      execute: rawValue & (1 << 54) == 0)
  }
}

/// Index of `ipa` in the table at `level` (9 bits per level, 4 KiB granule).
func stage2TableIndex(ipa: UInt64, level: Int) -> Int {
  Int((ipa >> UInt64(12 + 9 * (3 - level))) & 0x1FF)
}

/// Errors choosing a stage-2 configuration.
enum Stage2ConfigurationError: Error, Equatable {
  /// ID_AA64MMFR0_EL1.PARange holds a value this code does not know.
  case unknownPhysicalAddressRange(field: UInt8)
  /// The requested IPA size is outside what a level-1 start with 4 KiB granule covers.
  case unsupportedIPASize(bits: Int)
}

/// VTCR_EL2 for a 4 KiB granule with the walk starting at level 1.
struct Stage2TranslationControl: Equatable {
  /// IPA space size in bits (32 to 39 with a level-1 start).
  let ipaBits: Int
  /// VTCR_EL2.PS value (= PARange field) and the physical address width it means.
  let physicalSizeField: UInt8
  let physicalAddressBits: Int

  /// Physical address bits per ID_AA64MMFR0_EL1.PARange (Arm ARM D17.2.64).
  static func physicalAddressBits(parange: UInt8) throws(Stage2ConfigurationError) -> Int {
    switch parange {
    case 0: 32
    case 1: 36
    case 2: 40
    case 3: 42
    case 4: 44
    case 5: 48
    case 6: 52
    default: throw .unknownPhysicalAddressRange(field: parange)
    }
  }

  init(ipaBits: Int, parange: UInt8) throws(Stage2ConfigurationError) {
    guard (31...39).contains(ipaBits) else { throw .unsupportedIPASize(bits: ipaBits) }
    let bits = try Stage2TranslationControl.physicalAddressBits(parange: parange)
    // 52-bit PA needs the LPA2/64 KiB formats; cap at 48 bits for the 4 KiB granule.
    self.physicalAddressBits = min(bits, 48)
    self.physicalSizeField = min(parange, 5)
    self.ipaBits = min(ipaBits, self.physicalAddressBits)
  }

  /// The VTCR_EL2 value: T0SZ [5:0] = 64 - ipaBits; SL0 [7:6] = 1 (start at level 1);
  /// IRGN0 [9:8] = ORGN0 [11:10] = 1 (write-back); SH0 [13:12] = 3 (inner shareable);
  /// TG0 [15:14] = 0 (4 KiB); PS [18:16]; RES1 bit 31.
  var rawValue: UInt64 {
    UInt64(64 - ipaBits) | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | UInt64(physicalSizeField) << 16
      | 1 << 31
  }

  /// Number of IPA bits translated by the level-1 table (it may have fewer than 512 entries).
  var level1EntryCount: Int { 1 << (ipaBits - 30) }
}

/// VTTBR_EL2: the level-1 table base with the VMID in bits [55:48].
func stage2TableBaseRegister(tableAddress: UInt64, vmid: UInt8) -> UInt64 {
  (tableAddress & 0x0000_FFFF_FFFF_FFFE) | UInt64(vmid) << 48
}

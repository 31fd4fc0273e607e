// The arm64 Linux Image header (Documentation/arch/arm64/booting.rst, "Call the kernel image"):
// 64 bytes, little-endian, at the start of the Image.
//
//   0x00 u32 code0, 0x04 u32 code1   executable code (a branch to the kernel's start)
//   0x08 u64 text_offset             image load offset from a 2 MiB aligned base
//   0x10 u64 image_size              effective image size (bss included); 0: kernel older than 3.17
//   0x18 u64 flags                   bit 0 endianness (0 LE, 1 BE); bits 1-2 page size (0 unspecified,
//                                    1 4K, 2 16K, 3 64K); bit 3 physical placement (0: base close to
//                                    the start of DRAM, 1: anywhere); bits 4-63 reserved
//   0x20 u64 res2, 0x28 u64 res3, 0x30 u64 res4   reserved
//   0x38 u32 magic "ARM\x64" (0x644d5241)
//   0x3c u32 res5                    reserved (PE header offset)
//
// One parser for the hypervisor (app/LinuxBoot.swift reads the Image QEMU loaded into guest RAM)
// and hvtrace (which checks `--image` before starting QEMU). Embedded-safe, typed throws.

/// The fields of an arm64 Image header, and what the hypervisor can boot.
public struct LinuxImageHeader: Equatable, Sendable {
  public static let size = 64
  public static let magicValue: UInt32 = 0x644D_5241
  /// Field offsets (booting.rst).
  public static let textOffsetOffset = 0x08
  public static let imageSizeOffset = 0x10
  public static let flagsOffset = 0x18
  public static let magicOffset = 0x38
  /// booting.rst: "If image_size is zero, text_offset can be assumed to be 0x80000."
  public static let legacyTextOffset: UInt64 = 0x8_0000

  /// Kernel page size, flags bits 1-2.
  public enum PageSize: UInt64, Equatable, Sendable {
    case unspecified = 0
    case size4K = 1
    case size16K = 2
    case size64K = 3

    /// Whether a CPU whose ID_AA64MMFR0_EL1 is `mmfr0` implements this granule (Arm ARM D19.2.64:
    /// TGran4 [31:28] 0 or 1 = yes, TGran64 [27:24] 0 = yes, TGran16 [23:20] 1 or 2 = yes).
    public func isImplemented(memoryModelFeatures0 mmfr0: UInt64) -> Bool {
      switch self {
      case .unspecified: return true
      case .size4K: return (mmfr0 >> 28) & 0xF <= 1
      case .size64K: return (mmfr0 >> 24) & 0xF == 0
      case .size16K: let field = (mmfr0 >> 20) & 0xF; return field == 1 || field == 2
      }
    }

    /// ID_AA64MMFR0_EL1 of the Cortex-A72 QEMU emulates (its TRM: 0x1124; 4 KiB and 64 KiB
    /// granules, no 16 KiB), for checks made before the CPU exists (hvtrace).
    public static let cortexA72MemoryModelFeatures0: UInt64 = 0x1124

    public var bytes: UInt64? {
      switch self {
      case .unspecified: return nil
      case .size4K: return 4096
      case .size16K: return 16384
      case .size64K: return 65536
      }
    }
  }

  public var textOffset: UInt64
  public var imageSize: UInt64
  public var flags: UInt64

  /// flags bit 0: the kernel is big-endian.
  public var isBigEndian: Bool { flags & 1 != 0 }
  /// flags bits 1-2.
  public var pageSize: PageSize { PageSize(rawValue: (flags >> 1) & 3)! }
  /// flags bit 3: the kernel may be placed anywhere in physical memory (0: its 2 MiB aligned base
  /// should be as close as possible to the base of DRAM).
  public var placeAnywhere: Bool { flags & 8 != 0 }

  /// Reads the header from `bytes` (at least 64). Checks the magic only; `check` says whether the
  /// hypervisor can boot it.
  public init(bytes: UnsafeRawBufferPointer) throws(LinuxImageError) {
    guard bytes.count >= Self.size else { throw .tooShort(length: bytes.count) }
    func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    let magic = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: Self.magicOffset, as: UInt32.self))
    guard magic == Self.magicValue else { throw .badMagic(found: magic) }
    textOffset = u64(Self.textOffsetOffset)
    imageSize = u64(Self.imageSizeOffset)
    flags = u64(Self.flagsOffset)
  }

  public init(textOffset: UInt64, imageSize: UInt64, flags: UInt64) {
    self.textOffset = textOffset
    self.imageSize = imageSize
    self.flags = flags
  }

  /// Whether the hypervisor can boot this kernel loaded at a 2 MiB aligned base with room for
  /// `availableBytes` (up to the initramfs). `granuleSupported` says whether the CPU has a page
  /// size (ID_AA64MMFR0_EL1.TGran4/16/64, Arm ARM D19.2.64); `unspecified` always passes.
  public func check(availableBytes: UInt64, granuleSupported: (PageSize) -> Bool) throws(LinuxImageError) {
    guard !isBigEndian else { throw .bigEndian(flags: flags) }
    guard flags >> 4 == 0 else { throw .reservedFlags(flags: flags) }
    guard pageSize == .unspecified || granuleSupported(pageSize) else { throw .unsupportedPageSize(flags: flags, pageSize: pageSize) }
    // image_size 0: a pre-3.17 kernel whose text_offset may be 0x80000 and whose size is unknown.
    guard imageSize != 0 else { throw .unknownImageSize }
    // The Image is loaded exactly at the 2 MiB aligned base: the kernel must run there.
    guard textOffset == 0 else { throw .unsupportedTextOffset(textOffset) }
    guard imageSize <= availableBytes else { throw .imageTooLarge(imageSize: imageSize, available: availableBytes) }
  }
}

/// Why an Image cannot boot, naming the header field (booting.rst) and its value.
public enum LinuxImageError: Error, Equatable, Sendable {
  /// Fewer than 64 bytes.
  case tooShort(length: Int)
  /// No "ARM\x64" at offset 0x38: not an arm64 Image (a vmlinux ELF, a compressed Image.gz, …).
  case badMagic(found: UInt32)
  /// flags (0x18) bit 0 set: a big-endian kernel; the hypervisor runs little-endian guests only.
  case bigEndian(flags: UInt64)
  /// flags (0x18) bits 4-63 are reserved and must be 0.
  case reservedFlags(flags: UInt64)
  /// flags (0x18) bits 1-2: a page size the CPU does not implement.
  case unsupportedPageSize(flags: UInt64, pageSize: LinuxImageHeader.PageSize)
  /// image_size (0x10) is 0: a kernel older than 3.17, whose text_offset and size are unknown.
  case unknownImageSize
  /// text_offset (0x08) is not 0: the Image would have to run above its load address.
  case unsupportedTextOffset(UInt64)
  /// image_size (0x10) is larger than the room up to the initramfs.
  case imageTooLarge(imageSize: UInt64, available: UInt64)

  /// The header field at fault, its offset, and its value (0 for `tooShort`, the length there).
  public var field: (name: StaticString, offset: Int, value: UInt64) {
    switch self {
    case .tooShort(let length): return ("header", 0, UInt64(length))
    case .badMagic(let found): return ("magic", LinuxImageHeader.magicOffset, UInt64(found))
    case .bigEndian(let flags), .reservedFlags(let flags), .unsupportedPageSize(let flags, _):
      return ("flags", LinuxImageHeader.flagsOffset, flags)
    case .unknownImageSize: return ("image_size", LinuxImageHeader.imageSizeOffset, 0)
    case .unsupportedTextOffset(let offset): return ("text_offset", LinuxImageHeader.textOffsetOffset, offset)
    case .imageTooLarge(let size, _): return ("image_size", LinuxImageHeader.imageSizeOffset, size)
    }
  }

  /// What is wrong, in a few words (after the field, its offset and value).
  public var problem: StaticString {
    switch self {
    case .tooShort: return "the file is shorter than the 64-byte arm64 Image header"
    case .badMagic: return "is not \"ARM\\x64\": not an arm64 Image (a vmlinux ELF or a compressed Image.gz?)"
    case .bigEndian: return "bit 0 set: a big-endian kernel; the hypervisor boots little-endian kernels only"
    case .reservedFlags: return "bits 4-63 are reserved and must be 0"
    case .unsupportedPageSize: return "bits 1-2 ask for a page size this CPU does not implement (ID_AA64MMFR0_EL1.TGran)"
    case .unknownImageSize: return "is 0: a kernel older than 3.17, whose load offset and size are unknown"
    case .unsupportedTextOffset: return "is not 0: the Image is loaded at a 2 MiB aligned base and must run there"
    case .imageTooLarge: return "is larger than the 126 MiB between the Image and the initramfs"
    }
  }
}

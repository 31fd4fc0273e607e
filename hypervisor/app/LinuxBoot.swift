/// Preparing guest RAM for Linux's arm64 boot protocol (Documentation/arm64/booting.rst):
/// QEMU's `-device loader` has already placed the Image at IPA 0x4020_0000 and the initramfs at
/// IPA 0x4800_0000 (PA = IPA + 0x1000_0000); the hypervisor checks the Image header, writes the
/// guest's DTB (core/model/GuestDeviceTree) at IPA 0x4FE0_0000 and cleans it to the point of
/// coherency (the kernel reads it with its MMU and caches off). vCPU 0 then starts at the Image
/// with x0 = the DTB's IPA, x1–x3 = 0, EL1h with DAIF masked, SCTLR_EL1.M = C = 0.
enum LinuxBoot {
  /// The guest's fixed command line; words after `--` in the hypervisor's bootargs are appended.
  static let baseCommandLine: StaticString = "console=ttyAMA0 earlycon=pl011,0x09000000 rdinit=/init"
  /// Space reserved for the DTB (booting.rst: at most 2 MiB; ours is ~2 KiB).
  static let deviceTreeCapacity = 0x1_0000
  /// Image header (booting.rst "Call the kernel image"): text_offset at 0x08, image_size at 0x10,
  /// flags at 0x30, magic "ARM\x64" at 0x38.
  static let imageMagic: UInt32 = 0x644D_5241

  /// Errors that stop a Linux boot, naming what was found where.
  enum PreparationError: Error {
    /// No `ARM\x64` magic at offset 0x38 of the Image at `physicalAddress`.
    case notAnImage(physicalAddress: UInt64, found: UInt32)
    /// text_offset must be 0: the Image is loaded 2 MiB aligned, exactly where it runs.
    case unsupportedTextOffset(UInt64)
    /// flags bit 0 (big-endian kernel) set, or a page size other than 4 KiB / unspecified.
    case unsupportedFlags(UInt64)
    /// The kernel (image_size, bss included) would overlap the initramfs at `limit`.
    case imageTooLarge(imageSize: UInt64, limit: UInt64)
    /// `initrd_size=` is missing or not hexadecimal, or the initramfs does not fit below the DTB.
    case badInitrdSize(UInt64)
    /// The initramfs at `physicalAddress` does not start with gzip's magic 1f 8b.
    case initrdNotGzip(physicalAddress: UInt64)
    /// GuestDeviceTree could not build the DTB.
    case deviceTree(FDTBuildError)
  }

  /// Checks the Image and the initramfs, then writes the DTB. `bootArguments` are the
  /// hypervisor's own (`guest=linux initrd_size=0x… [-- extra guest words]`).
  static func prepare(_ description: VMDescription, boot: BootInformation) throws(PreparationError) {
    let ram = description.ram
    let toPhysical = { (ipa: UInt64) in ipa - ram.ipa + ram.physicalAddress }
    let image = toPhysical(VMConfigs.linuxImageIPA)
    let magic = UInt32(truncatingIfNeeded: load64(image + 0x38))
    guard magic == imageMagic else { throw .notAnImage(physicalAddress: image, found: magic) }
    let textOffset = load64(image + 0x08)
    guard textOffset == 0 else { throw .unsupportedTextOffset(textOffset) }
    let flags = load64(image + 0x30)
    let pageSize = (flags >> 1) & 3  // 0 unspecified, 1 = 4K, 2 = 16K, 3 = 64K
    guard flags & 1 == 0, pageSize <= 1 else { throw .unsupportedFlags(flags) }
    let imageSize = load64(image + 0x10)
    guard VMConfigs.linuxImageIPA + imageSize <= VMConfigs.linuxInitrdIPA else {
      throw .imageTooLarge(imageSize: imageSize, limit: VMConfigs.linuxInitrdIPA)
    }

    let initrdSize = parseHex(boot.argument("initrd_size")) ?? 0
    guard initrdSize > 0, VMConfigs.linuxInitrdIPA + initrdSize <= VMConfigs.linuxDeviceTreeIPA else {
      throw .badInitrdSize(initrdSize)
    }
    let initrd = toPhysical(VMConfigs.linuxInitrdIPA)
    guard load8(initrd) == 0x1F, load8(initrd + 1) == 0x8B else {
      throw .initrdNotGzip(physicalAddress: initrd)
    }

    var config = GuestDeviceTreeConfig(memoryBase: ram.ipa, memorySize: ram.size,
                                       cpuCount: description.vcpuCount)
    config.initrdStart = VMConfigs.linuxInitrdIPA
    config.initrdEnd = VMConfigs.linuxInitrdIPA + initrdSize
    var commandLine: [UInt8] = []
    baseCommandLine.withUTF8Buffer { commandLine.append(contentsOf: $0) }
    let extra = boot.wordsAfterSeparator
    if !extra.isEmpty {
      commandLine.append(0x20)
      commandLine.append(contentsOf: extra)
    }
    let deviceTree = toPhysical(VMConfigs.linuxDeviceTreeIPA)
    let buffer = UnsafeMutableRawBufferPointer(
      start: UnsafeMutableRawPointer(bitPattern: UInt(deviceTree)), count: deviceTreeCapacity)
    let size: Int
    do throws(FDTBuildError) {
      size = try GuestDeviceTree.build(config: config, bootargs: commandLine, into: buffer)
    } catch {
      throw .deviceTree(error)
    }
    CPU.cleanToPointOfCoherency(address: deviceTree, size: UInt64(size))

    Console.write("hv: linux Image ok (image_size "); Console.write(hex: imageSize)
    Console.write(", flags "); Console.write(hex: flags); Console.write("), initramfs ")
    Console.write(hex: VMConfigs.linuxInitrdIPA); Console.write("+"); Console.write(hex: initrdSize)
    Console.write(", DTB "); Console.write(hex: VMConfigs.linuxDeviceTreeIPA); Console.write(" (")
    Console.write(decimal: UInt64(size)); Console.write(" bytes), cmdline \"")
    Console.write(bytes: commandLine); Console.write("\"\r\n")
  }

  /// Prints a preparation error with the value that caused it.
  static func report(_ error: PreparationError) {
    Console.write("hv: cannot boot linux: ")
    switch error {
    case .notAnImage(let address, let found):
      Console.write("no ARM\\x64 magic at "); Console.write(hex: address + 0x38)
      Console.write(" (found "); Console.write(hex: UInt64(found)); Console.write(")")
    case .unsupportedTextOffset(let offset):
      Console.write("text_offset "); Console.write(hex: offset); Console.write(" is not 0")
    case .unsupportedFlags(let flags):
      Console.write("Image flags "); Console.write(hex: flags); Console.write(" (need LE, 4 KiB pages)")
    case .imageTooLarge(let size, let limit):
      Console.write("image_size "); Console.write(hex: size); Console.write(" reaches past ")
      Console.write(hex: limit)
    case .badInitrdSize(let size):
      Console.write("initrd_size="); Console.write(hex: size)
      Console.write(" missing or too large (run-qemu.sh passes it)")
    case .initrdNotGzip(let address):
      Console.write("no gzip initramfs at PA "); Console.write(hex: address)
    case .deviceTree:
      Console.write("the guest DTB does not fit")
    }
    Console.write("\r\n")
  }

  private static func load64(_ address: UInt64) -> UInt64 {
    UnsafePointer<UInt64>(bitPattern: UInt(address))!.pointee
  }

  private static func load8(_ address: UInt64) -> UInt8 {
    UnsafePointer<UInt8>(bitPattern: UInt(address))!.pointee
  }

  /// `0x`-prefixed (or bare) hexadecimal; nil for anything else.
  static func parseHex(_ text: [UInt8]?) -> UInt64? {
    guard var digits = text?[...], !digits.isEmpty else { return nil }
    if digits.count > 2 && digits[digits.startIndex] == UInt8(ascii: "0")
      && (digits[digits.startIndex + 1] | 0x20) == UInt8(ascii: "x")
    {
      digits = digits.dropFirst(2)
    }
    var value: UInt64 = 0
    for digit in digits {
      let nibble: UInt8
      switch digit {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
      default: return nil
      }
      guard value >> 60 == 0 else { return nil }
      value = value << 4 | UInt64(nibble)
    }
    return value
  }
}

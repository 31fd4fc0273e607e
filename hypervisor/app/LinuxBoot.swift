/// Preparing guest RAM for Linux's arm64 boot protocol (Documentation/arch/arm64/booting.rst):
/// QEMU's `-device loader` has already placed the Image at IPA 0x4020_0000 and the initramfs at
/// IPA 0x4800_0000 (PA = IPA + 0x1000_0000); the hypervisor checks the Image header (core/model/LinuxImageHeader), writes the
/// guest's DTB (core/model/GuestDeviceTree) at IPA 0x4FE0_0000 and cleans it to the point of
/// coherency (the kernel reads it with its MMU and caches off). vCPU 0 then starts at the Image
/// with x0 = the DTB's IPA, x1–x3 = 0, EL1h with DAIF masked, SCTLR_EL1.M = C = 0.
enum LinuxBoot {
  /// The guest's fixed command line; words after `--` in the hypervisor's bootargs are appended.
  static let baseCommandLine: StaticString = "console=ttyAMA0 earlycon=pl011,0x09000000 rdinit=/init"
  /// Space reserved for the DTB (booting.rst: at most 2 MiB; ours is ~2 KiB).
  static let deviceTreeCapacity = 0x1_0000
  /// Errors that stop a Linux boot, naming what was found where.
  enum PreparationError: Error {
    /// The Image header at `physicalAddress` (core/model/LinuxImageHeader: booting.rst's fields).
    case image(LinuxImageError, physicalAddress: UInt64)
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
    let header: LinuxImageHeader
    do throws(LinuxImageError) {
      header = try LinuxImageHeader(
        bytes: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(image)), count: LinuxImageHeader.size))
      let features = CPU.memoryModelFeatures0()
      try header.check(availableBytes: VMConfigs.linuxInitrdIPA - VMConfigs.linuxImageIPA,
                       granuleSupported: { $0.isImplemented(memoryModelFeatures0: features) })
    } catch {
      throw .image(error, physicalAddress: image)
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

    Console.write("hv: linux Image ok (image_size "); Console.write(hex: header.imageSize)
    Console.write(", flags "); Console.write(hex: header.flags); Console.write(": ")
    if let pageBytes = header.pageSize.bytes {
      Console.write("LE, "); Console.write(decimal: pageBytes >> 10); Console.write(" KiB pages, ")
    } else {
      Console.write("LE, page size unspecified, ")
    }
    Console.write(header.placeAnywhere ? "placed anywhere" : "placed near the start of RAM")
    Console.write(", "); Console.write(decimal: UInt64(description.vcpuCount)); Console.write(" vCPUs, RAM ")
    Console.write(decimal: ram.size >> 20); Console.write(" MiB), initramfs ")
    Console.write(hex: VMConfigs.linuxInitrdIPA); Console.write("+"); Console.write(hex: initrdSize)
    Console.write(", DTB "); Console.write(hex: VMConfigs.linuxDeviceTreeIPA); Console.write(" (")
    Console.write(decimal: UInt64(size)); Console.write(" bytes), cmdline \"")
    Console.write(bytes: commandLine); Console.write("\"\r\n")
  }

  /// Prints a preparation error with the value that caused it.
  static func report(_ error: PreparationError) {
    Console.write("hv: cannot boot linux: ")
    switch error {
    case .image(let error, let address):
      let field = error.field
      Console.write("Image at PA "); Console.write(hex: address); Console.write(": ")
      Console.write(field.name); Console.write(" (offset "); Console.write(hex: UInt64(field.offset))
      Console.write(") = "); Console.write(hex: field.value); Console.write(": "); Console.write(error.problem)
    case .badInitrdSize(let size):
      Console.write("initrd_size="); Console.write(hex: size)
      Console.write(" missing or too large (hvtrace passes the initramfs size)")
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

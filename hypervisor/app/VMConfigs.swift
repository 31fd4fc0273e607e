/// The guests the hypervisor can run, chosen with `guest=NAME` in the bootargs.
/// Layout (notes/common.md): VM 0's RAM is PA 0x5000_0000 mapped at IPA 0x4000_0000; the
/// guest's GIC is at the QEMU virt addresses (GICD 0x0800_0000 emulated, GICC 0x0801_0000 =
/// GICV), the PL011 at 0x0900_0000 is passed through with its IRQ 33.
enum GuestKind {
  case probe
  /// The probe's hostile mode: random hypercalls, accesses and system instructions (issue 8).
  case hostile
  /// The probe's compare mode: the operations measured side by side with KVM (issue 12).
  case probeCompare
  case nimbosContract
  /// The probe's timer-rate mode: a guest that never exits, with a self-re-arming timer (issue 14).
  case probeTimerRate
  case nimbos
  case linux

  init?(name: [UInt8]) {
    let slice = name[...]
    if bytesEqual(slice, "probe") { self = .probe }
    else if bytesEqual(slice, "hostile") { self = .hostile }
    else if bytesEqual(slice, "probe-compare") { self = .probeCompare }
    else if bytesEqual(slice, "nimbos-contract") { self = .nimbosContract }
    else if bytesEqual(slice, "probe-timer-rate") { self = .probeTimerRate }
    else if bytesEqual(slice, "nimbos") { self = .nimbos }
    else if bytesEqual(slice, "linux") { self = .linux }
    else { return nil }
  }
}

/// The VMs the hypervisor builds, on the memory map of GuestMemoryLayout (core/model).
enum VMConfigs {
  static let guestRAMIPA = GuestMemoryLayout.guestRAMIPA
  static let guestRAMPhysical = GuestMemoryLayout.guestRAMPhysical
  /// NimbOS / probe image IPA (PA 0x5008_0000), MMU off at entry.
  static let smallGuestImageIPA = GuestMemoryLayout.smallGuestImageIPA
  /// Linux Image IPA (2 MiB aligned), the initramfs (its size comes from `initrd_size=` in the
  /// hypervisor's bootargs) and the guest DTB the hypervisor writes.
  static let linuxImageIPA = GuestMemoryLayout.linuxImageIPA
  static let linuxInitrdIPA = GuestMemoryLayout.linuxInitrdIPA
  static let linuxDeviceTreeIPA = GuestMemoryLayout.linuxDeviceTreeIPA
  static let uart = GuestMemoryRegion(ipa: Platform.uartBase, physicalAddress: Platform.uartBase, size: 0x1000)
  /// EL1 virtual timer (PPI 27, Linux), EL1 physical timer (PPI 30, NimbOS), PL011 (SPI 1).
  static let passthroughInterrupts: [UInt32] = [27, 30, Platform.uartInterrupt]

  /// `probePanicAtEnd` (boot argument `panic=1`): the probe ends with the debug-panic call.
  /// `hostileSeed`/`hostileOperations` (boot arguments `seed=N`, `ops=N`) reach the hostile
  /// probe in x0: seed in [63:32], operation count in [31:0]; `compareIterations` (`ops=N`) reaches
  /// the compare mode in x0 (0 = its default).
  /// `linuxShape`: the Linux VM's vCPUs and RAM (checked with GuestShape against the machine).
  static func description(for kind: GuestKind, linuxShape: (vcpus: Int, ramBytes: UInt64),
                          probePanicAtEnd: Bool = false,
                          hostileSeed: UInt64 = ProbeProtocol.hostileDefaultSeed,
                          hostileOperations: UInt64 = ProbeProtocol.hostileDefaultOperations,
                          compareIterations: UInt64 = 0) -> VMDescription {
    let flags = probePanicAtEnd ? ProbeProtocol.modeFlagPanicAtEnd : 0
    let probeMode = { (mode: UInt64) in ProbeProtocol.modeMagic << 32 | mode | flags }
    switch kind {
    case .probe:
      return small(name: "probe", x1: probeMode(ProbeProtocol.modeProbe),
                   testDevice: ProbeProtocol.testDeviceIPA)
    case .hostile:
      return small(name: "hostile", x1: probeMode(ProbeProtocol.modeHostile),
                   testDevice: ProbeProtocol.testDeviceIPA,
                   x0: (hostileSeed & 0xFFFF_FFFF) << 32 | min(hostileOperations, 0xFFFF_FFFF))
    case .probeCompare:
      return small(name: "probe-compare", x1: probeMode(ProbeProtocol.modeCompare),
                   testDevice: ProbeProtocol.testDeviceIPA, x0: compareIterations)
    case .nimbosContract:
      return small(name: "nimbos-contract", x1: probeMode(ProbeProtocol.modeNimbOSContract),
                   testDevice: nil)
    case .probeTimerRate:
      return small(name: "probe-timer-rate", x1: probeMode(ProbeProtocol.modeTimerRate), testDevice: nil)
    case .nimbos:
      return small(name: "nimbos", x1: 0, testDevice: nil)
    case .linux:
      // The PL011 is passed through (its registers mapped, SPI 33 hardware-linked): Linux's
      // amba-pl011 driver finds the real PrimeCell IDs, console output costs no exits, and input
      // reaches the interactive shell through the real RX interrupt.
      var description = VMDescription(
        name: "linux", hardwareVMID: 1, vcpuCount: linuxShape.vcpus,
        ram: GuestMemoryRegion(ipa: guestRAMIPA, physicalAddress: guestRAMPhysical, size: linuxShape.ramBytes),
        entry: linuxImageIPA, bootX0: linuxDeviceTreeIPA, bootX1: 0, passthroughMMIO: [uart],
        distributorIPA: Platform.distributorBase, cpuInterfaceIPA: Platform.cpuInterfaceBase,
        passthroughInterrupts: passthroughInterrupts, probeDeviceIPA: nil)
      description.trapWaitForEvent = false
      return description
    }
  }

  /// NimbOS's contract: 128 MiB at IPA 0x4000_0000, image at 0x4008_0000, x0 ignored.
  private static func small(name: StaticString, x1: UInt64, testDevice: UInt64?, x0: UInt64 = 0) -> VMDescription {
    VMDescription(
      name: name, hardwareVMID: 1, vcpuCount: 1,
      ram: GuestMemoryRegion(ipa: guestRAMIPA, physicalAddress: guestRAMPhysical, size: GuestMemoryLayout.smallGuestRAMBytes),
      entry: smallGuestImageIPA, bootX0: x0, bootX1: x1, passthroughMMIO: [uart],
      distributorIPA: Platform.distributorBase, cpuInterfaceIPA: Platform.cpuInterfaceBase,
      passthroughInterrupts: passthroughInterrupts, probeDeviceIPA: testDevice)
  }
}

// Where a guest lives in QEMU virt's RAM and in its own IPA space, and what shapes (vCPUs, RAM) a
// VM may have. One definition for the hypervisor, which maps guest RAM and checks its boot
// arguments, and for hvtrace, which loads the images at these addresses and sizes QEMU's -m and
// -smp (Sources/HVTrace/Launch). Embedded-safe: no Foundation, no allocation, typed throws.

/// The physical and guest-physical memory map of the hypervisor's one VM on QEMU virt.
///
/// Machine RAM (QEMU `-m`) starts at PA 0x4000_0000. The hypervisor keeps its first 256 MiB: its
/// image, heap and page pool (0x4020_0000–0x4700_0000), the run's end status (0x4700_0000) and the
/// trace region (0x4800_0000, up to 32 MiB). Guest RAM follows at PA 0x5000_0000 and is mapped at
/// IPA 0x4000_0000, where QEMU virt guests expect their RAM.
public enum GuestMemoryLayout {
  /// QEMU virt: machine RAM starts here.
  public static let machineRAMBase: UInt64 = 0x4000_0000
  /// Machine RAM the hypervisor keeps for itself, from `machineRAMBase`.
  public static let hypervisorReservedBytes: UInt64 = 0x1000_0000
  /// Guest RAM: host PA and the IPA the guest sees it at.
  public static let guestRAMPhysical: UInt64 = machineRAMBase + hypervisorReservedBytes
  public static let guestRAMIPA: UInt64 = 0x4000_0000

  /// The probe, hostile, compare and NimbOS guests: 128 MiB, image at IPA 0x4008_0000 (NimbOS's
  /// contract: QEMU's own load address for a raw aarch64 kernel).
  public static let smallGuestRAMBytes: UInt64 = 128 << 20
  public static let smallGuestImageIPA: UInt64 = 0x4008_0000

  /// Linux (Documentation/arch/arm64/booting.rst): the Image at a 2 MiB aligned base
  /// (text_offset 0), the initramfs at +128 MiB, the DTB the hypervisor writes at the top of the
  /// first 256 MiB (booting.rst: 8-byte aligned, within 512 MiB of the kernel, at most 2 MiB).
  public static let linuxImageIPA: UInt64 = 0x4020_0000
  public static let linuxInitrdIPA: UInt64 = 0x4800_0000
  public static let linuxDeviceTreeIPA: UInt64 = 0x4FE0_0000
  /// Linux guest RAM: 256 MiB unless `mem=` says otherwise.
  public static let linuxDefaultRAMBytes: UInt64 = 256 << 20
  /// The DTB's 2 MiB end the lowest 256 MiB.
  public static let linuxMinimumRAMBytes: UInt64 = 256 << 20
  /// The VM's stage-2 IPA space is 32 bits (VTCR_EL2.T0SZ = 32): RAM at IPA 1 GiB ends by 4 GiB.
  public static let linuxMaximumRAMBytes: UInt64 = 3 << 30
  /// Guest RAM is mapped in 2 MiB stage-2 blocks.
  public static let ramGranuleBytes: UInt64 = 2 << 20
  /// Physical CPUs (and vCPUs) a machine may have: GICv2's CPU interface limit (IHI 0048B §1.1).
  public static let maximumCPUs = 8

  /// The host PA of guest `ipa` (inside guest RAM).
  public static func physicalAddress(ipa: UInt64) -> UInt64 { ipa - guestRAMIPA + guestRAMPhysical }

  /// Machine RAM (QEMU -m) needed for `guestRAMBytes` of guest RAM.
  public static func machineRAMNeeded(guestRAMBytes: UInt64) -> UInt64 { hypervisorReservedBytes + guestRAMBytes }
}

/// The shape of the VM asked for: vCPUs and guest RAM, on a machine with `physicalCPUs` CPUs and
/// `machineRAMBytes` of RAM. `validate` is what both hvtrace (before starting QEMU) and the
/// hypervisor (from its boot arguments and the DTB) check, so the same request fails the same way.
public struct GuestShape: Equatable, Sendable {
  public var vcpus: Int
  public var guestRAMBytes: UInt64
  public var physicalCPUs: Int
  public var machineRAMBytes: UInt64
  /// Linux takes any RAM size in range; the small guests' contract is fixed.
  public var guestIsLinux: Bool

  public init(vcpus: Int, guestRAMBytes: UInt64, physicalCPUs: Int, machineRAMBytes: UInt64, guestIsLinux: Bool) {
    self.vcpus = vcpus
    self.guestRAMBytes = guestRAMBytes
    self.physicalCPUs = physicalCPUs
    self.machineRAMBytes = machineRAMBytes
    self.guestIsLinux = guestIsLinux
  }

  /// Checks the request; the error names the value and the limit it breaks.
  public func validate() throws(GuestShapeError) {
    guard physicalCPUs >= 1 && physicalCPUs <= GuestMemoryLayout.maximumCPUs else {
      throw .physicalCPUsOutOfRange(physicalCPUs)
    }
    guard vcpus >= 1 && vcpus <= GuestMemoryLayout.maximumCPUs else { throw .vcpusOutOfRange(vcpus) }
    // One vCPU per physical CPU (vCPU n on CPU n): no scheduler to share a CPU yet.
    guard vcpus <= physicalCPUs else { throw .moreVCpusThanPhysicalCPUs(vcpus: vcpus, physicalCPUs: physicalCPUs) }
    if guestIsLinux {
      guard guestRAMBytes >= GuestMemoryLayout.linuxMinimumRAMBytes
        && guestRAMBytes <= GuestMemoryLayout.linuxMaximumRAMBytes
      else { throw .guestRAMOutOfRange(guestRAMBytes) }
      guard guestRAMBytes % GuestMemoryLayout.ramGranuleBytes == 0 else { throw .guestRAMNotAligned(guestRAMBytes) }
    } else {
      guard vcpus == 1 else { throw .smallGuestHasOneVCpu(vcpus) }
      guard guestRAMBytes == GuestMemoryLayout.smallGuestRAMBytes else { throw .smallGuestRAMFixed(guestRAMBytes) }
    }
    let needed = GuestMemoryLayout.machineRAMNeeded(guestRAMBytes: guestRAMBytes)
    guard machineRAMBytes >= needed else { throw .machineRAMTooSmall(machine: machineRAMBytes, needed: needed) }
  }
}

/// Why a VM shape cannot run. Each case carries the offending value.
public enum GuestShapeError: Error, Equatable, Sendable {
  /// Physical CPUs (QEMU -smp) outside 1…8.
  case physicalCPUsOutOfRange(Int)
  /// vCPUs outside 1…8.
  case vcpusOutOfRange(Int)
  /// More vCPUs than physical CPUs: vCPU n runs on physical CPU n, there is no vCPU scheduler yet.
  case moreVCpusThanPhysicalCPUs(vcpus: Int, physicalCPUs: Int)
  /// Linux guest RAM outside 256 MiB…3 GiB.
  case guestRAMOutOfRange(UInt64)
  /// Linux guest RAM not a multiple of 2 MiB.
  case guestRAMNotAligned(UInt64)
  /// The probe and NimbOS guests run on one vCPU.
  case smallGuestHasOneVCpu(Int)
  /// The probe and NimbOS guests have exactly 128 MiB (NimbOS's contract).
  case smallGuestRAMFixed(UInt64)
  /// Machine RAM (QEMU -m) cannot hold the hypervisor's 256 MiB plus the guest's RAM.
  case machineRAMTooSmall(machine: UInt64, needed: UInt64)
}

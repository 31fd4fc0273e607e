/// The VM's shape from the hypervisor's boot arguments, checked against the machine QEMU made
/// (GuestShape in core/model, the same check hvtrace makes before starting QEMU):
/// `vcpus=N` (default: one per physical CPU for Linux, 1 for the small guests) and `mem=BYTES` (decimal or 0x-hexadecimal)
/// (Linux guest RAM, default 256 MiB). A refusal prints what to change and ends the run.
enum MachineCheck {
  /// The shape for `kind` on the machine `boot` describes; on a bad request, prints it and ends
  /// the run with `configurationRejected`.
  static func shape(for kind: GuestKind, boot: BootInformation) -> (vcpus: Int, ramBytes: UInt64) {
    let isLinux = kind == .linux
    let physicalCPUs = boot.cpuCount
    let vcpusWord = boot.argument("vcpus")
    let memWord = boot.argument("mem")
    let vcpus: Int
    if let vcpusWord {
      guard let value = parseUnsigned(vcpusWord), value <= 64 else { refuseWord("vcpus=", vcpusWord) }
      vcpus = Int(value)
    } else {
      vcpus = isLinux ? min(max(physicalCPUs, 1), GuestMemoryLayout.maximumCPUs) : 1
    }
    let ramBytes: UInt64
    if let memWord {
      guard let value = parseUnsigned(memWord) else { refuseWord("mem=", memWord) }
      ramBytes = value
    } else {
      ramBytes = isLinux ? GuestMemoryLayout.linuxDefaultRAMBytes : GuestMemoryLayout.smallGuestRAMBytes
    }
    // Machine RAM as QEMU's /memory node gives it, counted from where guest RAM layout starts.
    let machineRAM = boot.memoryBase == GuestMemoryLayout.machineRAMBase ? boot.memorySize : 0
    let shape = GuestShape(vcpus: vcpus, guestRAMBytes: ramBytes, physicalCPUs: physicalCPUs,
                           machineRAMBytes: machineRAM, guestIsLinux: isLinux)
    do throws(GuestShapeError) {
      try shape.validate()
    } catch {
      report(error, boot: boot)
      RunEnd.end(.configurationRejected)
    }
    return (vcpus, ramBytes)
  }

  private static func refuseWord(_ key: StaticString, _ value: [UInt8]) -> Never {
    Console.write("hv: cannot run this VM: boot argument "); Console.write(key)
    Console.write(bytes: value); Console.write(" is not a number\r\n")
    RunEnd.end(.configurationRejected)
  }

  /// One line naming the value, the limit and what to change.
  static func report(_ error: GuestShapeError, boot: BootInformation) {
    Console.write("hv: cannot run this VM: ")
    switch error {
    case .physicalCPUsOutOfRange(let count):
      Console.write("the machine has "); Console.write(decimal: UInt64(count))
      Console.write(" physical CPUs; the hypervisor runs on 1 to "); Console.write(decimal: UInt64(GuestMemoryLayout.maximumCPUs))
      Console.write(" (QEMU -smp, hvtrace --cpus)")
    case .vcpusOutOfRange(let count):
      Console.write("vcpus="); Console.write(decimal: UInt64(count)); Console.write(": a VM has 1 to ")
      Console.write(decimal: UInt64(GuestMemoryLayout.maximumCPUs)); Console.write(" vCPUs")
    case .moreVCpusThanPhysicalCPUs(let vcpus, let physical):
      Console.write("vcpus="); Console.write(decimal: UInt64(vcpus)); Console.write(" on ")
      Console.write(decimal: UInt64(physical))
      Console.write(" physical CPUs: more vCPUs than physical CPUs is not supported yet (vCPU n runs on CPU n); give QEMU -smp ")
      Console.write(decimal: UInt64(vcpus)); Console.write(" (hvtrace --cpus)")
    case .guestRAMOutOfRange(let bytes):
      Console.write("mem="); Console.write(hex: bytes); Console.write(": Linux guest RAM is 256 MiB to 3 GiB")
    case .guestRAMNotAligned(let bytes):
      Console.write("mem="); Console.write(hex: bytes); Console.write(" is not a multiple of 2 MiB")
    case .smallGuestHasOneVCpu(let count):
      Console.write("vcpus="); Console.write(decimal: UInt64(count)); Console.write(": this guest runs on one vCPU")
    case .smallGuestRAMFixed(let bytes):
      Console.write("mem="); Console.write(hex: bytes); Console.write(": this guest has 128 MiB (NimbOS's contract)")
    case .machineRAMTooSmall(let machine, let needed):
      Console.write("guest RAM needs PA "); Console.write(hex: GuestMemoryLayout.guestRAMPhysical)
      Console.write(" to "); Console.write(hex: GuestMemoryLayout.machineRAMBase + needed)
      Console.write(", but the machine's RAM is "); Console.write(hex: boot.memoryBase); Console.write(" size ")
      Console.write(hex: machine); Console.write("; give QEMU -m "); Console.write(decimal: needed >> 20)
      Console.write("M or more (hvtrace sizes it from --memory)")
    }
    Console.write("\r\n")
  }
}

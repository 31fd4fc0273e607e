/// A guest-physical memory region backed by host physical memory.
struct GuestMemoryRegion {
  let ipa: UInt64
  let physicalAddress: UInt64
  let size: UInt64
}

/// What the core needs to build a VM (the app's per-guest configs produce one).
struct VMDescription {
  let name: StaticString
  /// The hardware VMID programmed in VTTBR_EL2 bits [55:48] (Arm ARM D17.2.152), which tags this
  /// VM's stage-1 and stage-2 TLB entries. Not the trace's VM number: see `VM.index`.
  let hardwareVMID: UInt8
  let vcpuCount: Int
  let ram: GuestMemoryRegion
  /// Entry point IPA and boot registers x0/x1 of vCPU 0 (the others start with PSCI CPU_ON).
  let entry: UInt64
  let bootX0: UInt64
  let bootX1: UInt64
  /// Physical devices mapped straight into the guest (e.g. the PL011).
  let passthroughMMIO: [GuestMemoryRegion]
  /// Guest view of the GIC: GICD (emulated) and GICC (backed by the physical GICV frame).
  let distributorIPA: UInt64
  let cpuInterfaceIPA: UInt64
  /// Physical interrupts delivered to this VM as virtual interrupts of the same number.
  let passthroughInterrupts: [UInt32]
  /// IPA of the probe's emulated test device, if the VM has one.
  let probeDeviceIPA: UInt64?
  /// Trap WFE (HCR_EL2.TWE). Off for SMP guests: Linux spins in WFE on locks, and with one vCPU
  /// pinned per physical CPU there is nobody to yield to.
  var trapWaitForEvent = true
}

/// Errors building a VM.
enum VMError: Error {
  case stage2(Stage2MappingError)
  case stage2Configuration(Stage2ConfigurationError)
}

/// A virtual machine: identity (index and hardware VMID), stage-2 memory map, device models and vCPUs.
final class VM {
  let description: VMDescription
  /// The VM's 0-based position among the hypervisor's VMs (the first VM is 0). Trace records
  /// name vCPUs by it (`VCpu.traceIdentifier`), so a single VM's vCPUs 0…127 encode in one varint
  /// byte; it is independent of `description.hardwareVMID`.
  let index: UInt8
  let stage2: Stage2PageTable
  private(set) var vcpus: [VCpu] = []
  private(set) var devices: [DeviceWindow] = []
  let gic: VirtualGIC
  var topology: PSCITopology {
    PSCITopology(vcpuCount: vcpus.count, ramBase: description.ram.ipa, ramSize: description.ram.size)
  }

  /// Builds the VM that is the hypervisor's `index`-th (0-based).
  init(_ description: VMDescription, index: UInt8) throws(VMError) {
    self.description = description
    self.index = index
    // 32-bit IPA space: devices below 1 GiB, RAM at 1 GiB (within 4 GiB).
    let control: Stage2TranslationControl
    do throws(Stage2ConfigurationError) {
      control = try Stage2TranslationControl(ipaBits: 32, parange: CPU.physicalAddressRangeField())
    } catch {
      throw .stage2Configuration(error)
    }
    do throws(Stage2MappingError) {
      stage2 = try Stage2PageTable(control: control)
    } catch {
      throw .stage2(error)
    }
    gic = VirtualGIC(vcpuCount: description.vcpuCount, hardwareInterrupts: description.passthroughInterrupts)
    do throws(Stage2MappingError) {
      try stage2.map(ipa: description.ram.ipa, physicalAddress: description.ram.physicalAddress,
                     size: description.ram.size, memoryType: .normalWriteBack,
                     permissions: .readWriteExecute)
      for device in description.passthroughMMIO {
        try stage2.map(ipa: device.ipa, physicalAddress: device.physicalAddress, size: device.size,
                       memoryType: .device, permissions: .readWrite)
      }
      // GICC_* at the guest's GICC IPA is the GICV frame (8 KiB: GICV_DIR sits at 0x1000).
      try stage2.map(ipa: description.cpuInterfaceIPA,
                     physicalAddress: Platform.virtualCPUInterfaceBase, size: 0x2000,
                     memoryType: .device, permissions: .readWrite)
    } catch {
      throw .stage2(error)
    }
    devices.append(DeviceWindow(base: description.distributorIPA, size: 0x1000,
                                device: .distributor(gic)))
    if let probeIPA = description.probeDeviceIPA {
      devices.append(DeviceWindow(base: probeIPA, size: 0x1000, device: .probeTestDevice(ProbeTestDevice())))
    }
    for index in 0..<description.vcpuCount {
      let vcpu = VCpu(index: index, vm: self, powerState: index == 0 ? .on : .off)
      if index == 0 { vcpu.reset(entry: description.entry, x0: description.bootX0, x1: description.bootX1) }
      vcpus.append(vcpu)
    }
  }

  var vttbr: UInt64 { stage2TableBaseRegister(tableAddress: stage2.rootTable, vmid: description.hardwareVMID) }

  /// Installs this VM's stage-2 translation on the current physical CPU and flushes its TLBs.
  func activateTranslation() {
    Stage2MMU.install(vtcr: stage2.control.rawValue, vttbr: vttbr)
    Stage2MMU.invalidateCurrentVMID()
  }

  /// The emulated device owning `ipa`, if any.
  @inline(__always) func device(at ipa: UInt64) -> DeviceWindow? {
    for window in devices where window.contains(ipa) { return window }
    return nil
  }

  func ownsInterrupt(_ interrupt: UInt32) -> Bool { gic.isHardwareLinked(interrupt) }
}

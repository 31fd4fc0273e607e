import CHAL

/// VMs stay alive for the hypervisor's lifetime.
var runningVMs: [VM] = []

/// Entry from boot.S on CPU 0, MMU and caches on, x0 = DTB address from the loader (or 0),
/// x1 = CNTPCT_EL0 read by the first instruction of `_start`.
@_cdecl("hv_main")
func hypervisorMain(_ deviceTreeAddress: UInt64, _ bootCounter: UInt64) -> Never {
  let entryCounter = bootCounter
  Console.write("\r\nhvtrace hypervisor (Embedded Swift) at EL")
  Console.write(decimal: CPU.currentExceptionLevel())
  Console.write(CPU.el2TranslationAndCachesEnabled() ? ", EL2 MMU + caches on\r\n" : ", MMU OFF\r\n")
  PageAllocator.initialize()
  RunEnd.markRunning()

  let dtb = deviceTreeAddress != 0 ? deviceTreeAddress : Platform.defaultDeviceTreeAddress
  var boot = BootInformation()
  do throws(DeviceTreeError) {
    boot = try DeviceTreeReader(base: dtb).read()
  } catch {
    Console.write("hv: cannot read the DTB at "); Console.write(hex: dtb)
    Console.write(" (QEMU passes it in x0; boot the hypervisor with -kernel hv.elf)\r\n")
    RunEnd.end(.configurationRejected, address: dtb)
  }
  Console.write("hv: memory "); Console.write(hex: boot.memoryBase); Console.write(" size ")
  Console.write(hex: boot.memorySize); Console.write(", bootargs \""); Console.write(bytes: boot.bootArguments)
  Console.write("\"\r\n")

  Tracing.initialize(TraceSettings(boot), cpuCount: boot.cpuCount)

  let guestName = boot.argument("guest") ?? Array("probe".utf8)
  guard let kind = GuestKind(name: guestName) else {
    Console.write("hv: unknown guest=\""); Console.write(bytes: guestName)
    Console.write("\" (probe, hostile, probe-compare, probe-timer-rate, nimbos-contract, nimbos, linux)\r\n")
    RunEnd.end(.configurationRejected)
  }
  let shape = MachineCheck.shape(for: kind, boot: boot)
  let seed = boot.argument("seed").flatMap(parseUnsigned) ?? ProbeProtocol.hostileDefaultSeed
  let requestedOperations = boot.argument("ops").flatMap(parseUnsigned)
  let operations = requestedOperations ?? ProbeProtocol.hostileDefaultOperations
  let description = VMConfigs.description(
    for: kind, linuxShape: shape, probePanicAtEnd: boot.argument("panic") != nil,
    hostileSeed: seed, hostileOperations: operations, compareIterations: requestedOperations ?? 0)
  if kind == .linux {
    do throws(LinuxBoot.PreparationError) {
      try LinuxBoot.prepare(description, boot: boot)
    } catch {
      LinuxBoot.report(error)
      RunEnd.end(.configurationRejected)
    }
  }

  GICDistributor.initialize()
  let vm: VM
  do throws(VMError) {
    vm = try VM(description, index: UInt8(runningVMs.count))
  } catch {
    Console.write("hv: cannot build the VM (stage-2 tables: page pool exhausted or IPA size unsupported)\r\n")
    RunEnd.end(.configurationRejected)
  }
  runningVMs.append(vm)
  PhysicalCPUs.publish()
  for interrupt in description.passthroughInterrupts where interrupt >= 32 {
    // Always enabled physically: while the guest has it disabled, it just stays active here.
    GICDistributor.enable(interrupt)
  }
  preparePhysicalCPU(for: vm)
  printBanner(description, vm: vm)

  let handoff = CPU.counter()
  let frequency = CPU.counterFrequency()
  Console.write("hv: boot-to-guest "); Console.write(decimal: handoff)
  Console.write(" counter ticks since reset ("); Console.write(decimal: handoff * 1_000_000 / frequency)
  Console.write(" us; from _start "); Console.write(decimal: handoff - entryCounter)
  Console.write(" ticks at "); Console.write(decimal: frequency / 1_000_000); Console.write(" MHz)\r\n")
  vm.vcpus[0].switchInAndRun()
}

/// The one-screen summary of the VM about to run.
func printBanner(_ description: VMDescription, vm: VM) {
  Console.write("hv: VM "); Console.write(decimal: UInt64(vm.index))
  Console.write(" (VMID "); Console.write(decimal: UInt64(description.hardwareVMID)); Console.write(")")
  Console.write(" \""); Console.write(description.name); Console.write("\": RAM IPA ")
  Console.write(hex: description.ram.ipa); Console.write(" -> PA ")
  Console.write(hex: description.ram.physicalAddress); Console.write(" size ")
  Console.write(decimal: description.ram.size >> 20); Console.write(" MiB, entry ")
  Console.write(hex: description.entry); Console.write(", vcpus ")
  Console.write(decimal: UInt64(description.vcpuCount)); Console.write("\r\n")
  Console.write("hv:   GICD "); Console.write(hex: description.distributorIPA)
  Console.write(" (emulated), GICC "); Console.write(hex: description.cpuInterfaceIPA)
  Console.write(" (GICV "); Console.write(hex: Platform.virtualCPUInterfaceBase)
  Console.write("), PL011 "); Console.write(hex: Platform.uartBase); Console.write(" (IRQ 33)")
  if let probe = description.probeDeviceIPA {
    Console.write(", test device "); Console.write(hex: probe)
  }
  Console.write(", stage-2 tables "); Console.write(decimal: UInt64(vm.stage2.tablePages))
  Console.write(" pages, VTCR "); Console.write(hex: vm.stage2.control.rawValue); Console.write("\r\n")
}

/// The per-physical-CPU part of the setup, on every CPU that runs one of `vm`'s vCPUs: its banked
/// GIC state (the maintenance PPI, the kick SGI and the VM's timer PPIs enabled), its CPU
/// interface, and the trap configuration.
func preparePhysicalCPU(for vm: VM) {
  GICDistributor.initializeBankedInterrupts()
  GICCPUInterface.initialize()
  GICDistributor.enable(Platform.maintenanceInterrupt)
  GICDistributor.enable(Platform.kickInterrupt)
  for interrupt in vm.description.passthroughInterrupts where interrupt < 32 {
    GICDistributor.enable(interrupt)  // the timer PPIs (banked: one set per CPU)
  }
  TrapPolicy.apply(trapWaitForEvent: vm.description.trapWaitForEvent)
}

/// Secondary physical CPU `index`, started by the firmware when the guest's PSCI CPU_ON first
/// names vCPU `index` (hal_secondary_entry: stack, MMU, TPIDR_EL2, VBAR_EL2 done). It runs that
/// vCPU (vCPU n is pinned to physical CPU n).
@_cdecl("hv_secondary_main")
func hypervisorSecondaryMain(_ index: UInt64) -> Never {
  let vm = runningVMs[0]
  preparePhysicalCPU(for: vm)
  Tracing.initializeSecondaryCPU()
  PhysicalCPUs.runWhenPoweredOn(vm.vcpus[Int(index)])
}

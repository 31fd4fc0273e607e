import CProbe

// The probe's compare mode (issue 12): the same operations measured the same way under our
// hypervisor and under KVM (hvtrace-vmm at L1 of the KVM reference machine), so the host can put
// the two side by side. Only what both provide: SMCCC and PSCI calls, the test device, ACTLR_EL1
// (trapped by both), the EL1 virtual timer (PPI 27) through the GICv2 CPU interface, WFI. Timing is
// CNTVCT_EL0 (no PMU, no 0xC600_xxxx hypercall); results go to the PL011, one line per operation:
//
//   COMPARE-op: op=NAME count=N ticks=T base-ticks=B freq=F result=0x… mismatches=M ok
//
// T is the CNTVCT ticks of N operations in a tight loop, B those of the same loop without the
// operation (the host subtracts it), F the counter frequency; under QEMU -icount shift=0 one tick
// at 62.5 MHz is 16 ns = 16 instructions. The timer rows give the sum, min and max over N of the
// ticks from the timer's deadline (CNTV_CVAL) to the guest seeing it. Every operation runs before the
// first line is printed, so the measurements form one window without console traffic (under KVM
// each character is two exits to the VMM) that a trace can be cut to.
// x0 at entry: iterations per loop (0 = compareDefaultIterations).

enum CompareOperation {
  static let psciVersion: UInt64 = 0x8400_0000
  static let smcccVersion: UInt64 = 0x8000_0000
  /// Timer deadlines this far ahead of the arming instruction: long enough for either hypervisor to
  /// have put the vCPU to sleep in WFI (100 µs at 62.5 MHz).
  static let timerLeadTicks: UInt64 = 6250
}

/// What the virtual-timer interrupt handler saw (probe_irq, case 27).
enum CompareTimer {
  static var interruptCounter: UInt64 = 0
  static var interrupts: UInt64 = 0
}

/// Called from `probeInterrupt` for INTID 27 (the EL1 virtual timer): the counter when the guest's
/// handler ran, then the timer is stopped so its level drops.
func compareTimerInterrupt() {
  CompareTimer.interruptCounter = probe_counter()
  CompareTimer.interrupts += 1
  write_cntv_ctl_el0(0)
}

/// One measured operation, printed after all of them ran.
struct CompareLine {
  let name: StaticString
  let count: UInt64, ticks: UInt64, baseTicks: UInt64
  let result: UInt64?
  let mismatches: UInt64
  let extra: (StaticString, UInt64, StaticString, UInt64)?
  let ok: Bool
}

struct CompareRun {
  let iterations: UInt64
  let frequency = read_cntfrq_el0()
  var lines: [CompareLine] = []
  var failures: UInt64 = 0

  /// Keeps one `COMPARE-op:` line. `ok` is the caller's verdict (consistent results, every wake-up seen).
  mutating func line(_ name: StaticString, count: UInt64, ticks: UInt64, baseTicks: UInt64, result: UInt64?,
                     mismatches: UInt64, extra: (StaticString, UInt64, StaticString, UInt64)? = nil, ok: Bool) {
    if !ok { failures += 1 }
    lines.append(CompareLine(name: name, count: count, ticks: ticks, baseTicks: baseTicks, result: result,
                             mismatches: mismatches, extra: extra, ok: ok))
  }

  /// Prints the kept lines.
  func printLines() {
    for line in lines {
      Out.text(ProbeProtocol.markerCompareOp)
      Out.text(" op="); Out.text(line.name)
      Out.field("count", line.count); Out.field("ticks", line.ticks); Out.field("base-ticks", line.baseTicks)
      Out.field("freq", frequency)
      if let result = line.result { Out.text(" result="); Out.hex(result) }
      Out.field("mismatches", line.mismatches)
      if let extra = line.extra { Out.field(extra.0, extra.1); Out.field(extra.2, extra.3) }
      Out.verdict(line.ok)
    }
  }

  /// A function through HVC or SMC, `iterations` times; the first call's x0 is what every later
  /// call must return (PSCI 1.1 / SMCCC 1.1 on ours; KVM's SMC handler returns NOT_SUPPORTED).
  mutating func call(_ name: StaticString, function: UInt64, viaSMC: Bool) {
    let expected = viaSMC ? probe_smc(function, 0, 0, 0) : probe_hvc(function, 0, 0, 0)
    var mismatches: UInt64 = 0
    let ticks = viaSMC ? probe_timed_smc(function, iterations, expected, &mismatches)
                       : probe_timed_hvc(function, iterations, expected, &mismatches)
    var ignored: UInt64 = 0
    let base = probe_timed_no_call(function, iterations, expected, &ignored)
    line(name, count: iterations, ticks: ticks, baseTicks: base, result: expected, mismatches: mismatches,
         ok: mismatches == 0)
  }

  /// Loads of the test device's ID register and stores to its scratch register.
  mutating func deviceAccesses() {
    let device = ProbeProtocol.testDeviceIPA
    var mismatches: UInt64 = 0
    let reads = probe_timed_load32(device + 0x00, iterations, 0x4856_5452, &mismatches)
    let base = probe_timed_empty(iterations)
    line("mmio-read", count: iterations, ticks: reads, baseTicks: base, result: UInt64(probe_load32(device)),
         mismatches: mismatches, ok: mismatches == 0)
    let writes = probe_timed_store64(device + 0x08, iterations, 0x0123_4567_89AB_CDEF)
    let readBack = probe_load64(device + 0x08)
    line("mmio-write", count: iterations, ticks: writes, baseTicks: base, result: readBack,
         mismatches: readBack == 0x0123_4567_89AB_CDEF ? 0 : 1, ok: readBack == 0x0123_4567_89AB_CDEF)
  }

  mutating func systemRegister() {
    let ticks = probe_timed_sysreg_read(iterations)
    let base = probe_timed_empty(iterations)
    line("sysreg-read", count: iterations, ticks: ticks, baseTicks: base, result: nil, mismatches: 0, ok: true)
  }

  /// Arms the virtual timer `timerLeadTicks` ahead and waits in WFI: with interrupts unmasked the
  /// sample ends when the guest's IRQ handler runs (delivery), masked when WFI returns (wake-up).
  mutating func timer(_ name: StaticString, delivered: Bool) {
    let rounds = min(iterations, 50)
    var total: UInt64 = 0, shortest = UInt64.max, longest: UInt64 = 0, seen: UInt64 = 0
    for _ in 0..<rounds {
      let interruptsBefore = CompareTimer.interrupts
      let deadline = probe_counter() + CompareOperation.timerLeadTicks
      write_cntv_cval_el0(deadline)
      write_cntv_ctl_el0(1)  // ENABLE, IMASK clear
      probe_isb()
      var observed: UInt64 = 0
      if delivered {
        probe_irq_enable()
        var spins = 0
        while CompareTimer.interrupts == interruptsBefore && spins < 100 { probe_wfi(); spins += 1 }
        probe_irq_disable()
        if CompareTimer.interrupts != interruptsBefore { observed = CompareTimer.interruptCounter }
      } else {
        var spins = 0
        while read_cntv_ctl_el0() & 4 == 0 && spins < 100 { probe_wfi(); spins += 1 }  // ISTATUS
        if read_cntv_ctl_el0() & 4 != 0 { observed = probe_counter() }
        write_cntv_ctl_el0(0)
        // The interrupt may be pending at the GIC by now: take it off the CPU interface.
        let iar = probe_load32(GuestMap.cpuInterface + 0x0C)
        if iar & 0x3FF != 1023 { probe_store32(GuestMap.cpuInterface + 0x10, iar) }
      }
      if observed >= deadline {
        let latency = observed - deadline
        total += latency; shortest = min(shortest, latency); longest = max(longest, latency); seen += 1
      }
    }
    line(name, count: rounds, ticks: total, baseTicks: 0, result: nil, mismatches: rounds - seen,
         extra: ("min", seen > 0 ? shortest : 0, "max", longest), ok: seen == rounds)
  }
}

/// The compare mode's run: every operation once, then the summary line.
func compareMode(iterations requested: UInt64) {
  var run = CompareRun(iterations: requested == 0 ? ProbeProtocol.compareDefaultIterations : requested)
  Out.text(ProbeProtocol.markerCompareStart)
  Out.field("iterations", run.iterations); Out.field("freq", run.frequency); Out.text("\r\n")
  run.call("smccc-version-hvc", function: CompareOperation.smcccVersion, viaSMC: false)
  run.call("psci-version-hvc", function: CompareOperation.psciVersion, viaSMC: false)
  run.call("psci-version-smc", function: CompareOperation.psciVersion, viaSMC: true)
  run.deviceAccesses()
  run.systemRegister()
  enableInterrupt(27)
  run.timer("timer-irq", delivered: true)
  run.timer("wfi-wake", delivered: false)
  run.printLines()
  Out.text(ProbeProtocol.markerCompareDone)
  Out.field("operations", UInt64(run.lines.count)); Out.field("failures", run.failures); Out.text("\r\n")
}

import CProbe
import TraceFormat

// The probe guest: a deterministic workload at EL1 (MMU off) that drives each exit kind a
// fixed number of times and prints one summary line per phase (markers in protocol.txt).
// Mode `probe` exercises every handler; mode `nimbos-contract` only NimbOS's contract.

/// The guest's view of the machine (the same addresses NimbOS uses).
enum GuestMap {
  static let uart: UInt64 = 0x0900_0000
  static let distributor: UInt64 = 0x0800_0000
  static let cpuInterface: UInt64 = 0x0801_0000
  static let ramBase: UInt64 = 0x4000_0000
  static let ramSize: UInt64 = 128 << 20
}

enum Function {
  static let psciVersion: UInt64 = 0x8400_0000
  static let psciFeatures: UInt64 = 0x8400_000A
  static let systemOff: UInt64 = 0x8400_0008
  static let cpuOn: UInt64 = 0xC400_0003
  static let smcccVersion: UInt64 = 0x8000_0000
  static let hypervisorNull = UInt64(TraceHypercall.null)
  static let exitCount = UInt64(TraceHypercall.exitCount)
  // Tracing calls: the one definition in TraceFormat.
  static let traceMarker = UInt64(TraceHypercall.guestMarker)
  static let setTracing = UInt64(TraceHypercall.setTracing)
  static let debugPanic = UInt64(TraceHypercall.debugPanic)
  static let notSupported = UInt64(bitPattern: -1)
  static let invalidParameters = UInt64(bitPattern: -2)
}

// MARK: - Console through the guest's PL011 (passed through by the hypervisor)

enum Out {
  static func byte(_ value: UInt8) {
    while probe_load32(GuestMap.uart + 0x18) & (1 << 5) != 0 {}
    probe_store32(GuestMap.uart, UInt32(value))
  }
  static func text(_ value: StaticString) {
    value.withUTF8Buffer { for b in $0 { byte(b) } }
  }
  static func decimal(_ value: UInt64) {
    var divisor: UInt64 = 1
    while value / divisor >= 10 { divisor *= 10 }
    var rest = value
    while divisor > 0 { byte(UInt8(rest / divisor) + 48); rest %= divisor; divisor /= 10 }
  }
  static func hex(_ value: UInt64) {
    text("0x")
    var shift = 60
    var started = false
    while shift >= 0 {
      let nibble = UInt8((value >> UInt64(shift)) & 0xF)
      if nibble != 0 || started || shift == 0 { started = true; byte(nibble < 10 ? nibble + 48 : nibble + 87) }
      shift -= 4
    }
  }
  static func field(_ name: StaticString, _ value: UInt64) { text(" "); text(name); text("="); decimal(value) }
  static func verdict(_ ok: Bool) { text(ok ? " ok\r\n" : " FAILED\r\n") }
}

// MARK: - Exception and interrupt handlers (called from start.S)

/// What the synchronous handler saw; aborts are stepped over (one 4-byte instruction).
enum Faults {
  static var aborts: UInt64 = 0
  static var lastSyndrome: UInt64 = 0
  static var lastAddress: UInt64 = 0
  static var undefined: UInt64 = 0
}

enum Interrupts {
  static var timer: UInt64 = 0
  static var uart: UInt64 = 0
  static var other: UInt64 = 0
}

@_cdecl("probe_sync_exception")
func probeSynchronousException() {
  let syndrome = read_esr_el1()
  let exceptionClass = (syndrome >> 26) & 0x3F
  if exceptionClass == 0x3C {
    // BRK: a Swift runtime trap in the probe itself, never something to step over.
    probeUnexpected(4, syndrome, read_elr_el1())
  }
  if exceptionClass == 0x25 || exceptionClass == 0x24 {
    Faults.aborts += 1
    Faults.lastSyndrome = syndrome
    Faults.lastAddress = read_far_el1()
  } else {
    Faults.undefined += 1
    Faults.lastSyndrome = syndrome
  }
  // Step over the faulting instruction: ELR_EL1 += 4.
  stepOverFaultingInstruction()
}

@_silgen_name("probe_step_over")
func stepOverFaultingInstruction()

/// Virtual IRQ: acknowledge through the guest GICC (GICV), handle, EOI (which also deactivates
/// the physical interrupt, the LR has the HW bit).
@_cdecl("probe_irq")
func probeInterrupt() {
  let iar = probe_load32(GuestMap.cpuInterface + 0x0C)
  let id = iar & 0x3FF
  switch id {
  case 27:
    // The virtual timer: enabled by the compare and timer-rate modes only.
    if TimerRate.running { timerRateInterrupt() } else { compareTimerInterrupt() }
  case 30:
    Interrupts.timer += 1
    write_cntp_ctl_el0(0)  // stop the timer: level drops
  case 33:
    Interrupts.uart += 1
    probe_store32(GuestMap.uart + 0x38, 0)  // UARTIMSC: mask all
    probe_store32(GuestMap.uart + 0x44, 0x7FF)  // UARTICR: clear all
  case 1023:
    return
  default:
    Interrupts.other += 1
  }
  probe_store32(GuestMap.cpuInterface + 0x10, iar)
}

@_cdecl("probe_unexpected")
func probeUnexpected(_ vector: UInt64, _ syndrome: UInt64, _ returnAddress: UInt64) {
  Out.text("PROBE-unexpected: vector="); Out.decimal(vector)
  Out.text(" esr="); Out.hex(syndrome); Out.text(" elr="); Out.hex(returnAddress); Out.text("\r\n")
  _ = probe_hvc(Function.systemOff, 0, 0, 0)
}

// MARK: - Helpers

/// Every exit the probe causes on purpose, counted by the probe itself (the trace test compares
/// the recorded exits with these). `untracedHVC`: calls made while tracing was switched off.
enum Performed {
  static var hvc: UInt64 = 0
  static var smc: UInt64 = 0
  static var dataAborts: UInt64 = 0
  static var waits: UInt64 = 0
  static var sysregs: UInt64 = 0
  static var untracedHVC: UInt64 = 0
}

@inline(__always) func hvc(_ fid: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) -> UInt64 {
  Performed.hvc += 1
  return probe_hvc(fid, a1, a2, a3)
}

@inline(__always) func smc(_ fid: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) -> UInt64 {
  Performed.smc += 1
  return probe_smc(fid, a1, a2, a3)
}

func exits(_ exceptionClass: UInt64) -> UInt64 { hvc(Function.exitCount, exceptionClass) }

/// A trace marker (like ftrace's trace_marker): id = phase number, value = what it counted.
func marker(_ id: UInt64, _ value: UInt64) { _ = hvc(Function.traceMarker, id, value) }

/// `count` null calls; returns guest-visible instructions per call (PMCCNTR, loop overhead removed).
func nullCallCost(_ count: UInt64) -> (perCall: UInt64, failed: UInt64) {
  var nonzero: UInt64 = 0
  let total = probe_hvc_loop(Function.hypervisorNull, count, &nonzero)
  let overhead = probe_null_loop(Function.hypervisorNull, count)
  Performed.hvc += count
  return ((total - min(overhead, total)) / count, nonzero)
}

/// Enables the guest GIC (emulated GICD, GICV-backed GICC) and interrupt `id`.
func enableInterrupt(_ id: UInt32) {
  probe_store32(GuestMap.distributor + 0x000, 1)  // GICD_CTLR.Enable
  probe_store8(GuestMap.distributor + 0x400 + UInt64(id), 0xA0)  // IPRIORITYR
  probe_store32(GuestMap.distributor + 0x100 + UInt64(id / 32) * 4, 1 << (id % 32))  // ISENABLER
  Performed.dataAborts += 3  // the distributor is emulated: three stage-2 exits
  probe_store32(GuestMap.cpuInterface + 0x004, 0xF0)  // GICC_PMR
  probe_store32(GuestMap.cpuInterface + 0x000, 1)  // GICC_CTLR.Enable
}

/// Arms the EL1 physical timer `ticks` counter ticks ahead and sleeps in WFI until it fires.
func sleepOnTimer(ticks: UInt64) -> Bool {
  let before = Interrupts.timer
  write_cntp_tval_el0(ticks)
  write_cntp_ctl_el0(1)  // ENABLE, not masked
  probe_isb()
  var spins: UInt64 = 0
  probe_irq_enable()
  while Interrupts.timer == before && spins < 1000 { probe_wfi(); spins += 1; Performed.waits += 1 }
  probe_irq_disable()
  return Interrupts.timer == before + 1
}

/// One load (or store) that must abort; true when exactly one abort at `address` came back.
func expectAbort(load address: UInt64) -> Bool {
  Performed.dataAborts += 1
  let before = Faults.aborts
  _ = probe_load64(address)
  return Faults.aborts == before + 1 && Faults.lastAddress == address
    && Faults.lastSyndrome & 0x3F == 0x10  // DFSC: synchronous external abort
}

func expectAbort(store address: UInt64) -> Bool {
  Performed.dataAborts += 1
  let before = Faults.aborts
  probe_store64(address, 0xDEAD_BEEF)
  return Faults.aborts == before + 1 && Faults.lastAddress == address
    && Faults.lastSyndrome & (1 << 6) != 0  // WnR
}

// MARK: - Phases of the probe mode

var failures: UInt64 = 0
var phases: UInt64 = 0

func report(_ ok: Bool) {
  phases += 1
  if !ok { failures += 1 }
  Out.verdict(ok)
}

func phaseHypercalls() {
  let calls: UInt64 = 1000
  let exitsBefore = exits(0x16)
  // PMCCNTR counts at EL2 too (the hypervisor set PMCCFILTR_EL0.NSH); enable it here as well.
  write_pmcr_el0(read_pmcr_el0() | 1)
  write_pmcntenset_el0(1 << 31)
  let (perCall, nonzero) = nullCallCost(calls)
  let hvcExits = exits(0x16) - exitsBefore - 1  // minus the exitCount call itself
  // The same round trip with tracing switched off and on at run time (setTracing returns the
  // previous state, NOT_SUPPORTED when tracing is compiled out).
  let previous = hvc(Function.setTracing, 0)
  var offCost: UInt64 = 0
  var onCost: UInt64 = 0
  if previous != Function.notSupported {
    offCost = nullCallCost(calls).perCall
    Performed.untracedHVC += calls  // the loop (both setTracing calls are traced: they close/open their exit)
    _ = hvc(Function.setTracing, 1)
    onCost = nullCallCost(calls).perCall
    if previous == 0 { _ = hvc(Function.setTracing, 0) }
  }
  Out.text(ProbeProtocol.markerHVC)
  Out.field("calls", calls); Out.field("ok", calls - nonzero); Out.field("exits", hvcExits)
  Out.field("insns-per-call", perCall)
  if previous == Function.notSupported {
    Out.text(" tracing=compiled-out")
  } else {
    Out.text(previous == 1 ? " tracing=on" : " tracing=off")
    Out.field("insns-off", offCost); Out.field("insns-on", onCost)
  }
  report(nonzero == 0 && hvcExits == calls)
  marker(1, calls)
}

func phasePSCI() {
  var ok: UInt64 = 0
  var hvcCount: UInt64 = 0
  var smcCount: UInt64 = 0
  for viaSMC in [false, true] {
    let call = { (fid: UInt64, a1: UInt64, a2: UInt64) -> UInt64 in
      viaSMC ? smc(fid, a1, a2) : hvc(fid, a1, a2)
    }
    let checks: [Bool] = [
      call(Function.psciVersion, 0, 0) == 0x1_0001,
      call(Function.psciFeatures, Function.systemOff, 0) == 0,
      call(Function.psciFeatures, 0x8400_00FF, 0) == Function.notSupported,
      call(Function.smcccVersion, 0, 0) == 0x1_0001,
      call(0x8200_0000, 0, 0) == Function.notSupported,  // SiP service: not ours
      call(Function.cpuOn, 5, GuestMap.ramBase) == Function.invalidParameters,  // no vCPU 5
    ]
    for check in checks {
      if viaSMC { smcCount += 1 } else { hvcCount += 1 }
      if check { ok += 1 }
    }
  }
  Out.text(ProbeProtocol.markerPSCI)
  Out.field("hvc", hvcCount); Out.field("smc", smcCount); Out.field("ok", ok)
  report(ok == hvcCount + smcCount)
  marker(2, hvcCount + smcCount)
}

func phaseMMIO() {
  let device = ProbeProtocol.testDeviceIPA
  let abortsBefore = exits(0x24)
  var reads: UInt64 = 0
  var writes: UInt64 = 0
  var ok: UInt64 = 0
  func check(_ condition: Bool) { if condition { ok += 1 } }
  for round in 0..<UInt64(8) {
    check(probe_load32(device + 0x00) == 0x4856_5452); reads += 1
    let value = 0x0123_4567_89AB_CDEF &* (round + 1)
    probe_store64(device + 0x08, value); writes += 1; ok += 1
    check(probe_load64(device + 0x08) == value); reads += 1
    probe_store8(device + 0x08 + round, UInt8(0xA0 + round)); writes += 1; ok += 1
    check(probe_load8(device + 0x08 + round) == UInt8(0xA0 + round)); reads += 1
  }
  probe_store16(device + 0x0A, 0xBEEF); writes += 1; ok += 1
  check(probe_load16(device + 0x0A) == 0xBEEF); reads += 1
  probe_store32(device + 0x0C, 0xCAFE_F00D); writes += 1; ok += 1
  check(probe_load32(device + 0x0C) == 0xCAFE_F00D); reads += 1
  check(probe_load8_signed(device + 0x20) == 0xFFFF_FFFF_FFFF_FF80); reads += 1
  check(probe_load16_signed(device + 0x20) == 0xFFFF_FFFF_FFFF_8080); reads += 1
  check(probe_load32_signed(device + 0x20) == 0xFFFF_FFFF_8080_8080); reads += 1
  check(probe_load32(device + 0x20) == 0x8080_8080); reads += 1
  let dataAbortExits = exits(0x24) - abortsBefore
  Performed.dataAborts += reads + writes
  Out.text(ProbeProtocol.markerMMIO)
  Out.field("writes", writes); Out.field("reads", reads); Out.field("ok", ok)
  Out.field("exits", dataAbortExits)
  report(ok == reads + writes && dataAbortExits == reads + writes)
  marker(3, reads + writes)
}

func phaseAborts() {
  let addresses: [UInt64] = [0x0C00_0000, 0x0C00_1000, 0x3000_0000, 0x3FFF_F000]
  var aborts: UInt64 = 0
  for address in addresses where expectAbort(load: address) { aborts += 1 }
  // A register the emulated device does not have: the device model refuses, guest gets an abort.
  if expectAbort(load: ProbeProtocol.testDeviceIPA + 0x100) { aborts += 1 }
  Out.text(ProbeProtocol.markerAbort)
  Out.field("attempts", UInt64(addresses.count + 1)); Out.field("aborts", aborts)
  report(aborts == UInt64(addresses.count + 1))
  marker(4, aborts)
}

func phaseIsolation() {
  // The trace region (PA 0x4800_0000–0x4A00_0000), the GICH and GICV frames' physical
  // addresses, the guest's own backing PA, and the hypervisor's PA above the IPA space:
  // none of them may be reachable from the guest.
  let forbidden: [UInt64] = [0x4800_0000, 0x49FF_FFF8, 0x0803_0000, 0x0804_0000, 0x5020_0000,
                             0x1_4020_0000]
  var aborts: UInt64 = 0
  for address in forbidden {
    if expectAbort(load: address) { aborts += 1 }
    if expectAbort(store: address) { aborts += 1 }
  }
  // IPA 0x4020_0000 (the hypervisor's PA) is this guest's own RAM (PA 0x5020_0000).
  probe_store64(0x4020_0000, 0x5157_4154)
  let ownRAM = probe_load64(0x4020_0000) == 0x5157_4154
  Out.text(ProbeProtocol.markerIsolation)
  Out.field("accesses", UInt64(forbidden.count * 2)); Out.field("aborts", aborts)
  Out.field("own-ram", ownRAM ? 1 : 0)
  report(aborts == UInt64(forbidden.count * 2) && ownRAM)
  marker(5, aborts)
}

func phaseTimer() {
  enableInterrupt(30)
  let waitsBefore = exits(0x01)
  let interval = read_cntfrq_el0() / 1000  // 1 ms
  var delivered: UInt64 = 0
  for _ in 0..<3 where sleepOnTimer(ticks: interval) { delivered += 1 }
  let waitExits = exits(0x01) - waitsBefore
  Out.text(ProbeProtocol.markerTimer)
  Out.field("interrupts", delivered); Out.field("via-wfi", waitExits >= 3 ? 3 : waitExits)
  report(delivered == 3 && waitExits >= 3 && Interrupts.other == 0)
  marker(6, delivered)
}

func phaseSystemRegisters() {
  let before = exits(0x18)
  var value: UInt64 = 0
  for _ in 0..<5 {
    value = read_actlr_el1()
    write_actlr_el1(value)
  }
  Performed.sysregs += 10
  let trapped = exits(0x18) - before
  Out.text(ProbeProtocol.markerSysreg)
  Out.field("accesses", 10); Out.field("trapped", trapped)
  report(trapped == 10)
  marker(7, trapped)
}

/// The exits this run performed on purpose, by kind, including the SYSTEM_OFF call (or the
/// debug panic call) that follows this line.
func reportPerformedExits() {
  Performed.hvc += 1
  Out.text(ProbeProtocol.markerExits)
  Out.field("hvc", Performed.hvc); Out.field("smc", Performed.smc); Out.field("dabt", Performed.dataAborts)
  Out.field("wfx", Performed.waits); Out.field("sysreg", Performed.sysregs)
  Out.field("markers", 7); Out.field("untraced-hvc", Performed.untracedHVC); Out.text("\r\n")
}

// MARK: - NimbOS contract mode

func contractMode() {
  // Entry: MMU off, PC at 0x4008_0000, RAM from 0x4000_0000 for 128 MiB, nothing after it.
  let mmuOff = read_sctlr_el1() & 1 == 0
  let entry = probe_entry_address()
  probe_store64(GuestMap.ramBase, 0x1234)
  probe_store64(GuestMap.ramBase + GuestMap.ramSize - 8, 0x5678)
  let ramOK = probe_load64(GuestMap.ramBase) == 0x1234
    && probe_load64(GuestMap.ramBase + GuestMap.ramSize - 8) == 0x5678
  let endAborts = expectAbort(load: GuestMap.ramBase + GuestMap.ramSize)
  Out.text(ProbeProtocol.markerContractStart)
  Out.text(" entry="); Out.hex(entry); Out.field("mmu-off", mmuOff ? 1 : 0)
  Out.field("ram-mib", GuestMap.ramSize >> 20); Out.field("ram-end-aborts", endAborts ? 1 : 0)
  report(mmuOff && entry == 0x4008_0000 && ramOK && endAborts)

  // PL011 at 0x0900_0000 with its IRQ 33: a transmit interrupt (UARTIMSC.TXIM) must arrive.
  enableInterrupt(33)
  probe_store32(GuestMap.uart + 0x44, 0x7FF)  // UARTICR: start clean
  probe_store32(GuestMap.uart + 0x38, 1 << 5)  // UARTIMSC.TXIM
  probe_irq_enable()
  Out.text(ProbeProtocol.markerContractUART)
  var spins = 0
  while Interrupts.uart == 0 && spins < 100_000 { spins += 1 }
  probe_irq_disable()
  Out.field("tx-irq", Interrupts.uart)
  report(Interrupts.uart == 1)

  // GICv2: distributor at 0x0800_0000 (GICD_TYPER, PIDR2), CPU interface at 0x0801_0000.
  let typer = probe_load32(GuestMap.distributor + 0x004)
  let pidr2 = probe_load32(GuestMap.distributor + 0xFE8)
  let idle = probe_load32(GuestMap.cpuInterface + 0x0C) & 0x3FF  // no interrupt pending
  Out.text(ProbeProtocol.markerContractGIC)
  Out.text(" gicd-typer="); Out.hex(UInt64(typer)); Out.field("gicv2", (pidr2 >> 4) & 0xF == 2 ? 1 : 0)
  Out.field("gicc-iar-idle", UInt64(idle))
  report(typer & 0x1F >= 1 && (pidr2 >> 4) & 0xF == 2 && idle == 1023)

  // CNTP (PPI 30): five ticks, each awaited in WFI, as NimbOS's scheduler tick does.
  enableInterrupt(30)
  var ticks: UInt64 = 0
  let interval = read_cntfrq_el0() / 100  // 10 ms
  for _ in 0..<5 where sleepOnTimer(ticks: interval) { ticks += 1 }
  Out.text(ProbeProtocol.markerContractTimer)
  Out.field("ticks", ticks)
  report(ticks == 5)

  Out.text(ProbeProtocol.markerContractDone)
  Out.field("phases", phases); Out.field("failures", failures); Out.text("\r\n")
}

// MARK: - Entry

@_cdecl("probe_main")
func probeMain(_ entryMode: UInt64, _ argument: UInt64) {
  // The probe keeps general registers only; allow FP anyway in case the compiler disagrees.
  write_cpacr_el1(3 << 20)
  // No mode in x1: started directly on QEMU, the mode is in the word below the image.
  let mode = entryMode >> 32 == ProbeProtocol.modeMagic ? entryMode : probe_load64(ProbeProtocol.directModeWordIPA)
  if mode >> 32 == ProbeProtocol.modeMagic && mode & 0xFFFF == ProbeProtocol.modeTimerRate {
    timerRateMode()
    _ = probe_hvc(Function.systemOff, 0, 0, 0)
  }
  if mode >> 32 == ProbeProtocol.modeMagic && mode & 0xFFFF == ProbeProtocol.modeHostile {
    hostileMode(seed: argument >> 32, operations: argument & 0xFFFF_FFFF)
  } else if mode >> 32 == ProbeProtocol.modeMagic && mode & 0xFFFF == ProbeProtocol.modeCompare {
    compareMode(iterations: argument)
  } else if mode >> 32 == ProbeProtocol.modeMagic && mode & 0xFFFF == ProbeProtocol.modeNimbOSContract {
    Out.text(ProbeProtocol.markerContractStart); Out.text(" mode=nimbos-contract\r\n")
    contractMode()
  } else {
    Out.text(ProbeProtocol.markerStart); Out.text(" mode=probe\r\n")
    phaseHypercalls()
    phasePSCI()
    phaseMMIO()
    phaseAborts()
    phaseIsolation()
    phaseTimer()
    phaseSystemRegisters()
    Out.text(ProbeProtocol.markerDone)
    Out.field("phases", phases); Out.field("failures", failures); Out.text("\r\n")
    if mode & ProbeProtocol.modeFlagPanicAtEnd != 0 {
      // Flight-recorder test: a last marker, then the hypervisor panics on purpose.
      marker(ProbeProtocol.panicMarkerID, phases)
      reportPerformedExits()
      Out.text(ProbeProtocol.markerPanicking); Out.text("\r\n")
      _ = probe_hvc(Function.debugPanic, 0, 0, 0)
    }
    reportPerformedExits()
  }
  // PSCI SYSTEM_OFF through `hvc #0`, as NimbOS does.
  _ = probe_hvc(Function.systemOff, 0, 0, 0)
}

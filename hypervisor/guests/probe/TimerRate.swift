import CProbe

// The probe's timer-rate mode (issue 14): how often a guest that never exits gets its timer.
// The EL1 virtual timer is re-armed `timerRatePeriodMicroseconds` ahead of "now" in every handler,
// while the main loop spins on CNTVCT_EL0 with interrupts unmasked (no WFI, no hypercall, no trapped
// access: nothing gives the hypervisor an exit but the interrupts themselves). Run under the
// hypervisor and directly on QEMU, the two rates say whether virtualization starves the timer:
//
//   TIMERRATE-done: interrupts=N duration-us=D max-gap-us=G period-us=P ok

/// What the timer-rate handler counts (probe_irq, case 27, while `running`).
enum TimerRate {
  static var running = false
  static var periodTicks: UInt64 = 0
  static var interrupts: UInt64 = 0
  static var lastCounter: UInt64 = 0
  static var longestGap: UInt64 = 0
}

/// The virtual timer fired: count it, note the gap since the previous one and arm the next
/// deadline a period from now (the level drops, CVAL is in the future again).
func timerRateInterrupt() {
  let now = probe_counter()
  TimerRate.interrupts += 1
  TimerRate.longestGap = max(TimerRate.longestGap, now - TimerRate.lastCounter)
  TimerRate.lastCounter = now
  write_cntv_cval_el0(now + TimerRate.periodTicks)
}

/// Spins for `timerRateDurationMilliseconds` of counter time with the timer re-arming itself.
func timerRateMode() {
  let frequency = read_cntfrq_el0()
  let microsecond = { (ticks: UInt64) in ticks * 1_000_000 / frequency }
  Out.text(ProbeProtocol.markerTimerRateStart)
  Out.field("period-us", ProbeProtocol.timerRatePeriodMicroseconds)
  Out.field("duration-ms", ProbeProtocol.timerRateDurationMilliseconds); Out.text("\r\n")
  enableInterrupt(27)
  TimerRate.periodTicks = frequency * ProbeProtocol.timerRatePeriodMicroseconds / 1_000_000
  let duration = frequency * ProbeProtocol.timerRateDurationMilliseconds / 1000
  let start = probe_counter()
  TimerRate.lastCounter = start
  TimerRate.running = true
  write_cntv_cval_el0(start + TimerRate.periodTicks)
  write_cntv_ctl_el0(1)  // ENABLE, IMASK clear
  probe_isb()
  probe_irq_enable()
  while probe_counter() &- start < duration {}
  probe_irq_disable()
  write_cntv_ctl_el0(0)
  TimerRate.running = false
  let end = probe_counter()
  TimerRate.longestGap = max(TimerRate.longestGap, end - TimerRate.lastCounter)
  Out.text(ProbeProtocol.markerTimerRateDone)
  Out.field("interrupts", TimerRate.interrupts); Out.field("duration-us", microsecond(end - start))
  Out.field("max-gap-us", microsecond(TimerRate.longestGap))
  Out.field("period-us", ProbeProtocol.timerRatePeriodMicroseconds)
  Out.verdict(TimerRate.interrupts > 0)
}

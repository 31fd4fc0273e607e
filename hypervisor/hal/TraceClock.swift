import CHAL
import TraceFormat

/// What `RingProducer` needs from this machine: inner-shareable barriers (the host consumer is
/// another observer of normal, inner-shareable memory) and the generic counter for page headers.
enum HALTracePlatform: TracePlatform {
  /// `dmb ishst`: the record and page-header stores are visible before the sequence store.
  @inline(__always) static func storeBarrier() { hal_dmb_ishst() }
  /// `dmb ishld`: the consumer index is read before the page it frees is reused.
  @inline(__always) static func loadBarrier() { hal_dmb_ishld() }
  /// CNTPCT_EL0, common to all CPUs, for ordering pages across rings.
  @inline(__always) static func counterNow() -> UInt64 { read_cntpct_el0() }
}

/// The clock that stamps trace records, chosen at build time so the hot path never tests it:
/// PMCCNTR_EL0 (Arm ARM D13.2, "PMCCNTR_EL0"; default, `make TRACE_CLOCK=cycles`), or
/// CNTPCT_EL0 (`make TRACE_CLOCK=counter`, `-D HVTRACE_CLOCK_COUNTER`) for guests that program
/// the PMU themselves (Linux's perf resets PMCCNTR, which would send timestamps backwards).
/// The exception vectors stamp the trap frame with the same clock (`hal_select_vectors`).
/// A cycles build on a CPU without a PMUv3 leaves tracing off (see `Tracing.initialize`).
enum TraceClock {
  #if HVTRACE_CLOCK_COUNTER
  static let usesCycleCounter = false
  #else
  static let usesCycleCounter = true
  #endif

  /// The current trace-clock value.
  @inline(__always) static func now() -> UInt64 {
    #if HVTRACE_CLOCK_COUNTER
    return read_cntpct_el0()
    #else
    return read_pmccntr_el0()
    #endif
  }

  /// True when a PMUv3 is implemented: ID_AA64DFR0_EL1.PMUVer (bits [11:8]) is neither 0 (none)
  /// nor 0xF (IMPLEMENTATION DEFINED, not PMUv3) — Arm ARM D17.2.59.
  static var cycleCounterImplemented: Bool {
    let version = (read_id_aa64dfr0_el1() >> 8) & 0xF
    return version != 0 && version != 0xF
  }

  /// Starts PMCCNTR_EL0 counting at EL2 as well as EL1/EL0 (PMCCFILTR_EL0.NSH, bit 27), enables
  /// the PMU (PMCR_EL0.E, bit 0) and the cycle counter (PMCNTENSET_EL0.C, bit 31), and makes
  /// it count every cycle (PMCR_EL0.D, bit 3, clear: no divide-by-64). Arm ARM D17.5.
  static func startCycleCounter() {
    write_pmccfiltr_el0(read_pmccfiltr_el0() | (1 << 27))
    write_pmcr_el0((read_pmcr_el0() | 1) & ~UInt64(1 << 3))
    write_pmcntenset_el0(1 << 31)
    hal_isb()
  }

  /// Selects the trace clock on this CPU (vector table included). PMCCNTR_EL0 ticks at the
  /// CPU clock; QEMU's TCG model counts its virtual clock in nanoseconds (1 GHz; with
  /// `-icount shift=0` that is one tick per instruction), which is what `frequency` returns.
  static func select() {
    if usesCycleCounter { startCycleCounter() }
    hal_select_vectors(usesCycleCounter ? 1 : 0)
  }

  /// Hz of the trace clock. The PMU does not report its frequency; under QEMU (the only
  /// platform we run on) the cycle counter runs at 1 GHz.
  static var frequency: UInt64 { usesCycleCounter ? 1_000_000_000 : read_cntfrq_el0() }
}

import CHAL

// A test hook for the performance gate (scripts/perf-gate.sh, scripts/test-perf-gate.sh): extra,
// fixed work in one exit path, so a test can prove the gate catches a slower exit. Off unless the
// hypervisor is built with `make INJECT_DELAY=hvc` (-D HVTRACE_INJECT_DELAY_HVC); a normal build
// compiles it to nothing.

/// Instructions' worth of busy loop the hook adds (2 per iteration: 400 instructions = 400 ns of
/// virtual time under -icount shift=0, several times the null HVC's own cost).
let injectedDelayIterations: UInt64 = 200

/// Called at the start of the HVC64 handler; spins only in an `INJECT_DELAY=hvc` build.
@inline(__always)
func injectDelayIntoHypervisorCall() {
  #if HVTRACE_INJECT_DELAY_HVC
  hal_spin(injectedDelayIterations)
  #endif
}

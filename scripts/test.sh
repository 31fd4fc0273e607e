#!/usr/bin/env bash
# The project's test command: everything CI runs after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build
# The hypervisor image: built with the toolchain's own swiftc/clang/ld.lld, free of FP/SIMD, and
# with TRACE=0 free of every trace hook.
make -s -C hypervisor check-nofp check-trace-off
# Unit, fixture and analysis suites, and the integration suites that boot the probe guest (both
# modes), record and decode its trace, and boot Debian's Linux under the hypervisor.
# One test at a time: the integration suites each run QEMU guests with two vCPUs on this 2-core
# class of machine; run together they starve each other (timeouts, not findings).
swift test --no-parallel
# The decoder fuzzer, bounded (scripts/fuzz.sh; full runs are documented in Fuzz/README.md).
scripts/fuzz.sh 60
# The performance gate can fail: a synthetic slower-HVC candidate and a scratch hypervisor with
# work injected into its HVC64 handler must both make scripts/perf-gate.sh exit 1 naming HVC64.
scripts/test-perf-gate.sh

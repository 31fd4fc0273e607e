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
swift test
# The decoder fuzzer, bounded (scripts/fuzz.sh; full runs are documented in Fuzz/README.md).
scripts/fuzz.sh 60

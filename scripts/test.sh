#!/usr/bin/env bash
# The project's test command: everything CI runs after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build
swift test
# The decoder fuzzer, bounded (scripts/fuzz.sh; full runs are documented there).
scripts/fuzz.sh 60
# The hypervisor image: built with the toolchain's own swiftc/clang/ld.lld, and free of FP/SIMD.
make -s -C hypervisor check-nofp
hypervisor/scripts/test-probe.sh

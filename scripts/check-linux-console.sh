#!/usr/bin/env bash
# Checks a Linux guest console log (direct QEMU or under the hypervisor) for the scripted
# workload's markers, in order, with the expected values:
#   init marker, io checksum (= sha256 of 1 MiB of zeros, computed here), hello_world,
#   cpus=<N>, done marker, and the kernel's "reboot: Power down".
# Usage: scripts/check-linux-console.sh CONSOLE.LOG [EXPECTED_CPUS (default 2)]
# Marker strings come from hypervisor/guests/linux/markers.txt. Exit 0 when all are present.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log=${1:?"usage: check-linux-console.sh CONSOLE.LOG [EXPECTED_CPUS]"}
expected_cpus=${2:-2}
# shellcheck source=../hypervisor/guests/linux/markers.txt
. "$repo_root/hypervisor/guests/linux/markers.txt"

zeros_sha256=$(head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1)
expected=(
    "$HVTRACE_LINUX_INIT_MARKER uptime="
    "$HVTRACE_LINUX_IO_MARKER$zeros_sha256"
    "$HVTRACE_LINUX_HELLO_MARKER"
    "$HVTRACE_LINUX_CPUS_MARKER$expected_cpus"
    "$HVTRACE_LINUX_DONE_MARKER uptime="
    "reboot: Power down"
)

# Require each expected line after the previous one.
line_number=0
for want in "${expected[@]}"; do
    found=$(tr -d '\r' <"$log" | awk -v start="$line_number" -v want="$want" \
        'NR > start && index($0, want) { print NR; exit }')
    if [ -z "$found" ]; then
        echo "check-linux-console: FAIL: '$want' not found after line $line_number of $log" >&2
        exit 1
    fi
    line_number=$found
done
if tr -d '\r' <"$log" | grep -qE 'Kernel panic|Oops|BUG:|hvtrace-linux: (io mismatch|stat failed|poweroff failed)'; then
    echo "check-linux-console: FAIL: $log reports a panic, an oops or a workload error" >&2
    exit 1
fi
echo "check-linux-console: PASS: all ${#expected[@]} markers in order (cpus=$expected_cpus)"

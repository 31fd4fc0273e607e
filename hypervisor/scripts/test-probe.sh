#!/bin/sh
# Integration test: boots the probe guest (probe, nimbos-contract, probe-compare and hostile modes) under the hypervisor
# in QEMU (bounded by `timeout 60` each) and asserts every phase's summary line and exit code 0.
# Marker strings come from guests/probe/protocol.txt (the same file the guest is built from);
# the expected counts below are this test's own, independent of what the guest prints.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
protocol="$here/guests/probe/protocol.txt"
make -s -C "$here" all || exit 1
marker() { awk -v n="$1" '$1 == "string" && $2 == n { print $3 }' "$protocol"; }
failures=0

# run_guest GUEST: runs it, leaves output in $output and status in $status.
# Virtual time (-icount shift=0,sleep=off) makes the timer phases independent of host load: a
# timer armed 1 ms ahead cannot fire before the guest's next WFI however late the host runs QEMU.
run_guest() {
  output=$(timeout 60 "$here/scripts/run-qemu.sh" "$1" --no-build -- -icount shift=0,sleep=off 2>&1)
  status=$?
}

# expect NAME TEXT: the output must contain a line starting with MARKER(NAME) followed by TEXT.
expect() {
  line="$(marker "$1")$2"
  if printf '%s\n' "$output" | tr -d '\r' | grep -qF -- "$line"; then
    echo "  pass: $line"
  else
    echo "  FAIL: missing line: $line"
    failures=$((failures + 1))
  fi
}

# expect_pattern NAME REGEX: like expect, REGEX (extended) follows the marker and ends the line.
expect_pattern() {
  if printf '%s\n' "$output" | tr -d '\r' | grep -qE -- "^$(marker "$1")$2\$"; then
    echo "  pass: $(marker "$1")$2"
  else
    echo "  FAIL: no line matches: $(marker "$1")$2"
    failures=$((failures + 1))
  fi
}

expect_status_zero() {
  if [ "$status" -eq 0 ]; then echo "  pass: $1 exited 0"
  else echo "  FAIL: $1 exited with status $status (124 = timeout)"; failures=$((failures + 1)); fi
}

echo "probe:"
run_guest probe
expect markerStart " mode=probe"
expect_pattern markerHVC " calls=1000 ok=1000 exits=1000 insns-per-call=[0-9]+ tracing=((on|off) insns-off=[0-9]+ insns-on=[0-9]+|compiled-out) ok"
expect markerPSCI " hvc=6 smc=6 ok=12 ok"
expect markerMMIO " writes=18 reads=30 ok=48 exits=48 ok"
expect markerAbort " attempts=5 aborts=5 ok"
expect markerIsolation " accesses=12 aborts=12 own-ram=1 ok"
expect markerTimer " interrupts=3 via-wfi=3 ok"
expect markerSysreg " accesses=10 trapped=10 ok"
expect markerDone " phases=7 failures=0"
expect_pattern markerExits " hvc=[0-9]+ smc=6 dabt=68 wfx=[0-9]+ sysreg=10 markers=7 untraced-hvc=[0-9]+"
expect_status_zero probe
probe_output=$output

echo "nimbos-contract:"
run_guest nimbos-contract
expect markerContractStart " entry=0x40080000 mmu-off=1 ram-mib=128 ram-end-aborts=1 ok"
expect markerContractUART " tx-irq=1 ok"
expect markerContractGIC " gicd-typer=0x3 gicv2=1 gicc-iar-idle=1023 ok"
expect markerContractTimer " ticks=5 ok"
expect markerContractDone " phases=4 failures=0"
expect_status_zero nimbos-contract

echo "probe-compare:"
run_guest probe-compare
expect markerCompareStart " iterations=1000 freq=62500000"
for op in smccc-version-hvc psci-version-hvc psci-version-smc mmio-read mmio-write sysreg-read; do
  expect_pattern markerCompareOp " op=$op count=1000 ticks=[0-9]+ base-ticks=[0-9]+ freq=62500000( result=0x[0-9a-f]+)? mismatches=0 ok"
done
for op in timer-irq wfi-wake; do
  expect_pattern markerCompareOp " op=$op count=50 ticks=[0-9]+ base-ticks=0 freq=62500000 mismatches=0 min=[0-9]+ max=[0-9]+ ok"
done
expect markerCompareDone " operations=8 failures=0"
if printf '%s\n' "$output" | grep -q "0xC6\|0xc6"; then echo "  FAIL: compare mode printed a 0xC6.. id"; failures=$((failures + 1)); fi
expect_status_zero probe-compare

echo "hostile:"
run_guest hostile
expect_pattern markerHostileDone " ops=100000 hvc=[0-9]+ smc=[0-9]+ psci=[0-9]+ mem=[0-9]+ sysreg=[0-9]+ misc=[0-9]+ aborts=[0-9]+ undefs=[0-9]+ errors=[0-9]+ unexpected=0 memory-intact=1 responsive=1 ok"
if printf '%s\n' "$output" | grep -qi panic; then echo "  FAIL: panic in the hostile run"; failures=$((failures + 1)); fi
expect_status_zero hostile

if [ "$failures" -ne 0 ]; then
  echo "test-probe: $failures failure(s)"
  echo "--- probe output ---"; printf '%s\n' "$probe_output"
  echo "--- nimbos-contract output ---"; printf '%s\n' "$output"
  exit 1
fi
echo "test-probe: all passed"

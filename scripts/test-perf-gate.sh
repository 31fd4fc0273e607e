#!/usr/bin/env bash
# Proves the performance gate (scripts/perf-gate.sh) can fail, and names the exit that got slower:
#   1. synthetic, no QEMU: a candidate whose HVC latencies are 1.2 × the base's (`hvtrace synth
#      --scale hvc=1.2`, same seed) must exit 1 naming HVC64 and only HVC64, with HVC64 flame rows;
#      the unscaled candidate (identical trace) must exit 0.
#   2. injected work: a scratch copy of the hypervisor built with `make INJECT_DELAY=hvc` (a fixed
#      400-instruction busy loop in the HVC64 handler) records the probe; the gate, against the
#      committed baseline, must exit 1 naming HVC64 and only HVC64.
# Usage: scripts/test-perf-gate.sh [--hvtrace PATH] [--synthetic-only]
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"

hvtrace=""
synthetic_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --hvtrace) hvtrace="$2"; shift 2 ;;
        --synthetic-only) synthetic_only=1; shift ;;
        *) echo "usage: $0 [--hvtrace PATH] [--synthetic-only]" >&2; exit 2 ;;
    esac
done
if [ -z "$hvtrace" ]; then
    swift build --product hvtrace >/dev/null
    hvtrace="$(swift build --show-bin-path)/hvtrace"
fi
scratch="$(mktemp -d /tmp/hvtrace-perf-gate-test.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
failures=0

# check NAME EXPECTED_STATUS STATUS OUTPUT_FILE REGRESSED: the gate's status, and for status 1 that
# the report says exactly REGRESSED regressed and shows its flame rows.
check() {
    local name="$1" expected="$2" status="$3" output="$4" regressed="${5:-}"
    local ok=1
    [ "$status" -eq "$expected" ] || { echo "  FAIL: $name: gate exited $status, expected $expected"; ok=0; }
    if [ -n "$regressed" ]; then
        grep -qE "^  $regressed +regression " "$output" || { echo "  FAIL: $name: no '$regressed regression' row"; ok=0; }
        local rows
        rows=$(grep -cE "^  [A-Z0-9_]+ +regression " "$output" || true)
        [ "$rows" -eq 1 ] || { echo "  FAIL: $name: $rows regressed reasons, expected only $regressed"; ok=0; }
        grep -q "REGRESSION in $regressed\$" "$output" || { echo "  FAIL: $name: no 'REGRESSION in $regressed' line"; ok=0; }
        grep -qE "(grew|new) .* $regressed(;|\$)" "$output" || { echo "  FAIL: $name: no grown $regressed flame stack"; ok=0; }
    fi
    if [ $ok -eq 1 ]; then echo "  pass: $name (exit $status${regressed:+, names $regressed})"
    else failures=$((failures + 1)); echo "--- gate output ---"; cat "$output"; echo "---"; fi
}

echo "perf gate, synthetic candidate (no QEMU):"
baselines="$scratch/baselines"
mkdir -p "$baselines"
cp Benchmarks/baselines/exit-latency-thresholds.json "$baselines/"
"$hvtrace" synth --events 40000 --seed 7 --cpus 2 -o "$baselines/synthetic.hvt" >/dev/null
"$hvtrace" report "$baselines/synthetic.hvt" --format json -o "$baselines/synthetic.json"
"$hvtrace" synth --events 40000 --seed 7 --cpus 2 --scale hvc=1.2 -o "$scratch/slower.hvt" >/dev/null
"$hvtrace" synth --events 40000 --seed 7 --cpus 2 -o "$scratch/same.hvt" >/dev/null
status=0
scripts/perf-gate.sh --hvtrace "$hvtrace" --baselines "$baselines" --work "$scratch/work" \
    --candidate synthetic="$scratch/slower.hvt" synthetic >"$scratch/slower.txt" 2>&1 || status=$?
check "HVC latencies x1.2" 1 $status "$scratch/slower.txt" HVC64
status=0
scripts/perf-gate.sh --hvtrace "$hvtrace" --baselines "$baselines" --work "$scratch/work" \
    --candidate synthetic="$scratch/same.hvt" synthetic >"$scratch/same.txt" 2>&1 || status=$?
check "identical candidate" 0 $status "$scratch/same.txt"

if [ $synthetic_only -eq 0 ]; then
    echo "perf gate, work injected into the HVC64 handler (scratch hypervisor, QEMU):"
    if ! command -v qemu-system-aarch64 >/dev/null; then
        echo "  FAIL: qemu-system-aarch64 is not installed (scripts/setup.sh installs it)"
        failures=$((failures + 1))
    else
        # The scratch copy: the hypervisor (with its build directory, so only the Swift of the
        # hypervisor itself is recompiled) and the one copy of the trace format it compiles.
        mkdir -p "$scratch/root/Sources"
        cp -a hypervisor "$scratch/root/hypervisor"
        cp -a Sources/TraceFormat "$scratch/root/Sources/TraceFormat"
        status=0
        INJECT_DELAY=hvc scripts/perf-gate.sh --hvtrace "$hvtrace" --root "$scratch/root" \
            --work "$scratch/work" probe >"$scratch/injected.txt" 2>&1 || status=$?
        check "INJECT_DELAY=hvc probe" 1 $status "$scratch/injected.txt" HVC64
        grep -q "INJECT_DELAY=hvc" "$scratch/root/hypervisor/build/trace-setting" \
            || { echo "  FAIL: the scratch hypervisor was not built with INJECT_DELAY=hvc"; failures=$((failures + 1)); }
    fi
fi

if [ $failures -ne 0 ]; then echo "test-perf-gate: $failures failure(s)"; exit 1; fi
echo "test-perf-gate: all passed"

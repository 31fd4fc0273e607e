#!/usr/bin/env bash
# Updates the performance gate's baselines on purpose (README "Performance gate"): records each
# workload exactly as the gate does (scripts/perf-gate.sh --record-only), prints before → after with
# `hvtrace compare`, and writes
#   Benchmarks/baselines/<workload>.json   `hvtrace report --format json` of the new recording
#   Benchmarks/baselines/<workload>.hvt    the recording itself (for the gate's `flame --diff`), kept
#                                          only up to 256 KiB (probe ~2 KiB, Linux ~16 KiB)
# The rule: a baseline update is its own commit, and its message carries the before/after table
# this script prints.
#
# Usage: scripts/update-baselines.sh [--hvtrace PATH] [WORKLOAD...]   (default: probe linux)
set -euo pipefail
cd "$(dirname "$0")/.."

hvtrace=""
workloads=()
while [ $# -gt 0 ]; do
    case "$1" in
        --hvtrace) hvtrace="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) workloads+=("$1"); shift ;;
    esac
done
[ ${#workloads[@]} -gt 0 ] || workloads=(probe linux)
if [ -z "$hvtrace" ]; then
    swift build --product hvtrace >/dev/null
    hvtrace="$(swift build --show-bin-path)/hvtrace"
fi

baselines=Benchmarks/baselines
thresholds="$baselines/exit-latency-thresholds.json"
work=.build/perf-gate/update
max_trace_bytes=$((256 * 1024))
mkdir -p "$work"

for workload in "${workloads[@]}"; do
    rm -f "$work/$workload.hvt" "$work/$workload.json"
    scripts/perf-gate.sh --record-only --hvtrace "$hvtrace" --work "$work" "$workload" | tee "$work/$workload.gate.txt"
    if grep -q SKIPPED "$work/$workload.gate.txt"; then continue; fi

    echo "== $workload: before → after =="
    if [ -f "$baselines/$workload.json" ]; then
        "$hvtrace" compare "$baselines/$workload.json" "$work/$workload.json" --thresholds "$thresholds" || true
    else
        echo "(no previous baseline)"
    fi
    echo "after:"
    "$hvtrace" report "$work/$workload.hvt" | sed -n '/^Latency (ns)/,/^$/p'

    mv "$work/$workload.hvt" "$baselines/$workload.hvt"
    # Reported from the repository-relative path, so trace.source is the same on every machine.
    "$hvtrace" report "$baselines/$workload.hvt" --format json -o "$baselines/$workload.json"
    size=$(stat -c %s "$baselines/$workload.hvt")
    if [ "$size" -gt $max_trace_bytes ]; then
        rm "$baselines/$workload.hvt"
        echo "$workload: trace is $size bytes, not kept (the gate's flame diff then needs a fresh base recording)"
    fi
done
echo
echo "Commit the baselines on their own, with the before/after tables above in the message:"
echo "  git add $baselines && git commit   # 'Benchmarks: new <workload> baseline: <why>' + the tables"

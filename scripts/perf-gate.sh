#!/usr/bin/env bash
# The performance gate: records each exit-latency workload in deterministic mode (QEMU
# -icount shift=0,sleep=off: one tick = one guest instruction, so runs repeat exactly on a noisy
# machine), compares its `hvtrace report --format json` with the committed baseline in
# Benchmarks/baselines/, prints the regression report and, for every regressed exit reason, the
# differential flame rows that say where the time went. See README "Performance gate".
#
# Usage: scripts/perf-gate.sh [options] [WORKLOAD...]        workloads: probe linux (default: both)
#   --hvtrace PATH          the hvtrace executable (default: `swift build --product hvtrace`, debug)
#   --root DIR              repository root `hvtrace record` builds and boots from (default: this one;
#                           the proof test passes a scratch copy of the hypervisor)
#   --baselines DIR         baselines and thresholds (default: Benchmarks/baselines)
#   --work DIR              where candidate traces and reports go (default: .build/perf-gate)
#   --candidate W=FILE.hvt  use this trace as workload W's candidate instead of recording one
#   --record-only           only record (WORK/W.hvt) and report (WORK/W.json); no comparison
#                           (scripts/update-baselines.sh records baselines this way)
# Exit status: 0 no regression, 1 at least one regression, 2 the gate could not run (a recording
# failed, a baseline is missing, bad usage).
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repository"

hvtrace=""
root="$repository"
baselines="$repository/Benchmarks/baselines"
work="$repository/.build/perf-gate"
workloads=()
declare -A candidates=()
record_only=0

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --hvtrace) hvtrace="$2"; shift 2 ;;
        --root) root="$(cd "$2" && pwd)"; shift 2 ;;
        --baselines) baselines="$(cd "$2" && pwd)"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --record-only) record_only=1; shift ;;
        --candidate) candidates["${2%%=*}"]="$(realpath "${2#*=}")"; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "perf-gate: unknown option $1" >&2; usage ;;
        *) workloads+=("$1"); shift ;;
    esac
done
[ ${#workloads[@]} -gt 0 ] || workloads=(probe linux)
thresholds="$baselines/exit-latency-thresholds.json"

if [ -z "$hvtrace" ]; then
    swift build --product hvtrace >/dev/null
    hvtrace="$(swift build --show-bin-path)/hvtrace"
fi
mkdir -p "$work"
work="$(cd "$work" && pwd)"

# record WORKLOAD OUTPUT: the workload's deterministic recording (console in OUTPUT.log).
# Returns 3 when the workload cannot run here (its guest images are missing).
record() {
    local workload="$1" output="$2" timeout
    case "$workload" in
        probe) timeout=120 ;;
        linux)
            timeout=300
            for image in "$root/cache/guests/linux/Image" "$root/cache/guests/linux/initramfs.cpio.gz"; do
                if [ ! -f "$image" ]; then
                    echo "perf-gate: linux: SKIPPED: $image is missing (run scripts/setup-guests.sh)"
                    return 3
                fi
            done ;;
        *) echo "perf-gate: unknown workload $workload (probe, linux)" >&2; return 2 ;;
    esac
    # The hypervisor's console goes to the log; the recording summary too.
    if ! "$hvtrace" record --guest "$workload" --deterministic --quiet --timeout "$timeout" \
            --root "$root" -o "$output" >"$output.log" 2>&1; then
        echo "perf-gate: $workload: recording failed; its console and summary:" >&2
        tail -n 40 "$output.log" >&2
        return 2
    fi
}

# flame_rows BASE_TRACE CANDIDATE_TRACE REASON...: the differential flame view, only the
# header and the stacks of the given exit reasons.
flame_rows() {
    local base="$1" candidate="$2"
    shift 2
    "$hvtrace" flame "$candidate" --diff "$base" | awk -v reasons="$*" '
        BEGIN { n = split(reasons, list, " ") }
        NR <= 2 { print; next }
        { for (i = 1; i <= n; i++) if ($NF == list[i] || index($NF, list[i] ";") == 1) { print; next } }'
}

status=0
for workload in "${workloads[@]}"; do
    base_json="$baselines/$workload.json"
    base_trace="$baselines/$workload.hvt"
    if [ ! -f "$base_json" ] && [ $record_only -eq 0 ]; then
        echo "perf-gate: $workload: no baseline $base_json (create it with scripts/update-baselines.sh $workload)" >&2
        status=2; continue
    fi
    candidate="${candidates[$workload]:-}"
    if [ -z "$candidate" ]; then
        candidate="$work/$workload.hvt"
        rc=0; record "$workload" "$candidate" || rc=$?
        if [ $rc -eq 3 ]; then continue; fi
        if [ $rc -ne 0 ]; then status=2; continue; fi
    fi
    if ! "$hvtrace" report "$candidate" --format json -o "$work/$workload.json"; then
        echo "perf-gate: $workload: hvtrace report failed on $candidate" >&2
        status=2; continue
    fi
    [ $record_only -eq 0 ] || continue

    echo "== perf-gate: $workload =="
    # Lost events or unmatched exits would make the numbers meaningless: show the verdict on the data.
    "$hvtrace" report "$candidate" | grep -m1 "^data quality" | sed "s|^|candidate |" || true
    rc=0
    "$hvtrace" compare "$base_json" "$work/$workload.json" --thresholds "$thresholds" >"$work/$workload.compare.txt" || rc=$?
    cat "$work/$workload.compare.txt"
    case $rc in
        0) echo "perf-gate: $workload: no regression" ;;
        1)
            regressed=$(awk '$2 == "regression" { print $1 }' "$work/$workload.compare.txt" | tr '\n' ' ')
            echo "perf-gate: $workload: REGRESSION in ${regressed% }"
            if [ -f "$base_trace" ]; then
                echo "-- where the time went (hvtrace flame $candidate --diff $base_trace; stacks of ${regressed% }):"
                # shellcheck disable=SC2086
                flame_rows "$base_trace" "$candidate" $regressed || echo "(hvtrace flame --diff failed)"
            else
                echo "-- no baseline trace $base_trace is kept for $workload: record one from the baseline commit"
                echo "   (git checkout BASE && hvtrace record --guest $workload --deterministic -o base.hvt) and run"
                echo "   hvtrace flame $candidate --diff base.hvt"
            fi
            [ $status -eq 2 ] || status=1 ;;
        *) echo "perf-gate: $workload: compare failed (status $rc)" >&2; status=2 ;;
    esac
    echo
done
exit $status

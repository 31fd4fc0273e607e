#!/usr/bin/env bash
# Measures `hvtrace report` against `zstd -d` on the same synthetic trace, on one thread
# (HVTRACE_SINGLE_THREAD=1: decompression and decoding on one core) and by default (decompression
# on a thread of its own), and peak memory for a small and a large trace (it must not grow with
# trace length). The numbers in README.md
# ("Performance") come from this script.
#
#   scripts/bench-report.sh [EVENTS]        (default 100000000; needs ~1.2 GB in $TMPDIR)
#
# Times are the best of three runs (user+sys CPU seconds and wall seconds); the machine is shared,
# so CPU time is the steadier figure.
set -euo pipefail

events=${1:-100000000}
small=$((events / 10))
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/hvtrace-bench-report
mkdir -p "$work"
export PATH=/opt/swift/usr/bin:$PATH

swift build -c release --product hvtrace --package-path "$root" -j 2 >/dev/null
hvtrace="$root/.build/release/hvtrace"

for count in "$small" "$events"; do
    file="$work/synth-$count.hvt"
    [[ -f $file ]] || "$hvtrace" synth --events "$count" -o "$file" >/dev/null
done
big="$work/synth-$events.hvt"
little="$work/synth-$small.hvt"

# best-of-3 "cpu wall maxrss_kb" for a command (output discarded).
measure() {
    local best=""
    for _ in 1 2 3; do
        /usr/bin/time -o "$work/time.txt" -f "%U %S %e %M" "$@" >/dev/null 2>&1
        read -r user sys wall rss < <(tail -1 "$work/time.txt")
        local cpu
        cpu=$(echo "$user + $sys" | bc)
        if [[ -z $best ]] || (( $(echo "$cpu < ${best%% *}" | bc) )); then best="$cpu $wall $rss"; fi
    done
    echo "$best"
}

read -r report_cpu report_wall report_rss <<<"$(measure "$hvtrace" report "$big")"
read -r single_cpu single_wall _ <<<"$(measure env HVTRACE_SINGLE_THREAD=1 "$hvtrace" report "$big")"
read -r zstd_cpu zstd_wall _ <<<"$(measure zstd -q -d -c -f "$big")"
read -r _ _ small_rss <<<"$(measure "$hvtrace" report "$little")"
"$hvtrace" report --format json -o "$work/report.json" "$big"
decoded=$(grep -m1 '"events"' "$work/report.json" | tr -dc 0-9)

rate() { echo "scale=1; $decoded / $1 / 1000000" | bc; }
echo "trace: $big ($(stat -L -c %s "$big") bytes, $decoded events)"
echo "hvtrace report, one thread (HVTRACE_SINGLE_THREAD=1): ${single_cpu} s CPU, ${single_wall} s wall -> $(rate "$single_cpu") M events/s (CPU), $(rate "$single_wall") M events/s (wall)"
echo "hvtrace report, decompression thread (default): ${report_cpu} s CPU, ${report_wall} s wall -> $(rate "$report_wall") M events/s (wall)"
echo "zstd -d:        ${zstd_cpu} s CPU, ${zstd_wall} s wall -> $(rate "$zstd_cpu") M events/s (CPU)"
echo "ratio report/zstd -d: one thread $(echo "scale=2; $single_cpu / $zstd_cpu" | bc) (CPU), $(echo "scale=2; $single_wall / $zstd_wall" | bc) (wall); default $(echo "scale=2; $report_wall / $zstd_wall" | bc) (wall)"
echo "peak RSS: $small events ${small_rss} KB, $events events ${report_rss} KB"

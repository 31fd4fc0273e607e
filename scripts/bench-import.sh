#!/usr/bin/env bash
# Speed and peak memory of `hvtrace import` on large captures: the real trace-cmd capture
# Tests/Fixtures/good/import/probe-trace-cmd-ns.trace repeated N times (each copy one second later,
# so the file stays in time order), for two sizes; memory must stay flat (a fixed line buffer, a
# ring of 64 pages per vCPU).
#
# Usage: scripts/bench-import.sh [COPIES_SMALL COPIES_LARGE]   (default 1000 5000: ~48 MB and ~240 MB)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
small=${1:-1000}
large=${2:-5000}
cd "$repo_root"
swift build -c release -q
hvtrace="$(swift build -c release --show-bin-path)/hvtrace"
work=$(mktemp -d "${TMPDIR:-/tmp}/hvtrace-bench-import.XXXXXX")
trap 'rm -rf "$work"' EXIT
source_trace=Tests/Fixtures/good/import/probe-trace-cmd-ns.trace

for copies in "$small" "$large"; do
    awk -v copies="$copies" '
        NR == 1 { print; next }
        { line[++n] = $0 }
        END {
            for (c = 0; c < copies; c++)
                for (i = 1; i <= n; i++) {
                    text = line[i]
                    if (match(text, /\] +[0-9]+\./)) {
                        head = substr(text, 1, RSTART - 1); stamp = substr(text, RSTART, RLENGTH)
                        seconds = stamp; sub(/^\] +/, "", seconds); sub(/\.$/, "", seconds)
                        prefix = stamp; sub(/[0-9]+\.$/, "", prefix)
                        text = head prefix (seconds + c) "." substr(text, RSTART + RLENGTH)
                    }
                    print text
                }
        }' "$source_trace" >"$work/big.trace"
    /usr/bin/time -f "%e s wall, %U s user, %M KB peak RSS" "$hvtrace" import "$work/big.trace" -o "$work/big.hvt" \
        >"$work/out" 2>"$work/err"
    echo "import: $copies copies, $(wc -l <"$work/big.trace") lines, $(stat -c %s "$work/big.trace") bytes: $(tail -n1 "$work/err")"
    head -n1 "$work/out"
done

#!/usr/bin/env bash
# Records the real ftrace captures `hvtrace import` is tested on (Tests/Fixtures/good/import), with
# the KVM reference machine (scripts/setup-kvm.sh): the probe's compare mode under KVM at L1, ftrace's
# kvm events on, printed in every text form the importer reads. --window compare-ops keeps only the
# measured operations (the results are printed afterwards: under KVM each character is two exits),
# and small per-CPU buffers give captures that lost events. Deterministic (-icount), so re-recording
# gives the same files as long as the kernel, trace-cmd and probe.bin are the same.
#
# Usage: scripts/kvm-record-fixtures.sh [DIR]   (default Tests/Fixtures/good/import)
# Then regenerate the expected reports: HVTRACE_REGENERATE_FIXTURES=1 swift test --filter ImportFixtureTests
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo_root/Tests/Fixtures/good/import}
cd "$repo_root"
swift build -q
hvtrace="$(swift build --show-bin-path)/hvtrace"
make -s -C hypervisor all
scripts/setup-kvm.sh >/dev/null
mkdir -p "$out"

# record NAME [hvtrace kvm run options]: one capture into $out/NAME.trace.
record() {
    local name=$1
    shift
    "$hvtrace" kvm run --ftrace --capture "$out/$name.trace" "$@" >/dev/null
    echo "kvm-record-fixtures: $name: $(wc -l <"$out/$name.trace") lines" >&2
}

record probe-trace-local --format trace --window compare-ops --iterations 10
record probe-trace-cmd-ns --format trace-cmd --window compare-ops --iterations 10
record probe-trace-cmd-us --format trace-cmd-us --window compare-ops --iterations 5
record probe-trace-pipe-lost --format trace-pipe --window compare-ops --iterations 20 --buffer-kb 8
record probe-trace-cmd-dropped --format trace-cmd --window compare-ops --iterations 20 --buffer-kb 8
record probe-trace-raw --format trace --window compare-ops --iterations 5 --trace-options raw \
    --event-ids-file "$out/probe-trace-raw.ids"
record probe-trace-tgid-mono --format trace --window compare-ops --iterations 5 --trace-clock mono \
    --trace-options record-tgid,noirq-info
# Two vCPUs: the end of the Linux guest's boot (the buffer keeps the last 12 KiB per CPU).
record linux-trace-tail --workload linux --format trace --buffer-kb 12

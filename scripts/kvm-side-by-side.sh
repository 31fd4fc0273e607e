#!/usr/bin/env bash
# Our hypervisor and real KVM side by side, in one command (issue 12): the same probe binary (its
# compare mode) and the same Linux guest run under our hypervisor and under KVM (the KVM reference
# machine, scripts/setup-kvm.sh) on the same emulated CPU, in deterministic virtual time (QEMU
# -icount shift=0,sleep=off: 1 ns = 1 instruction, figures repeat exactly), tracing off and on for
# both (ours: the hypervisor's rings drained by `hvtrace record`; KVM: ftrace's kvm events at L1).
# Then it prints one table (operation, ours, KVM, ratio) and the per-exit-reason view of KVM
# against us (`hvtrace import` of KVM's capture, then `hvtrace compare kvm.hvt ours.hvt`).
#
# Usage: scripts/kvm-side-by-side.sh [--out DIR] [--probe-only] [--iterations N] [--variant nvhe|vhe]
#                                    [--markdown] [--linux-capture]
#   --out DIR         where the console logs, traces and captures go (default: .build/kvm-side-by-side)
#   --probe-only      skip the four Linux boots (what CI runs)
#   --iterations N    iterations per probe loop (default 1000)
#   --variant V       KVM's machine: nvhe (cortex-a72, default) or vhe (-cpu max,pauth-impdef=on)
#   --markdown        print the table as Markdown (for the README)
#   --linux-capture   also print KVM's ftrace capture of the traced Linux boot and import it
# Exit status: 0 when every run completed (the table may still show KVM slower: that is the point).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$repo_root/.build/kvm-side-by-side"
probe_only=0
iterations=1000
variant=nvhe
format=text
linux_capture=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?}; shift ;;
        --probe-only) probe_only=1 ;;
        --iterations) iterations=${2:?}; shift ;;
        --variant) variant=${2:?}; shift ;;
        --markdown) format=markdown ;;
        --linux-capture) linux_capture=1 ;;
        -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "kvm-side-by-side: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$variant" = nvhe ] || [ "$variant" = vhe ] || { echo "kvm-side-by-side: --variant is nvhe or vhe" >&2; exit 2; }

started=$SECONDS
log() { echo "kvm-side-by-side: [$((SECONDS - started)) s] $*" >&2; }
cd "$repo_root"
swift build -q >&2
hvtrace="$(swift build --show-bin-path)/hvtrace"
make -s -C hypervisor all >&2
scripts/setup-kvm.sh >/dev/null
mkdir -p "$out"
rm -f "$out"/*.console "$out"/*.hvt "$out"/*.trace

# ours_run WORKLOAD TRACED: our hypervisor, console into $out. Tracing on = `hvtrace record`
# (rings drained live into an .hvt); off = `hvtrace run` with trace=off.
ours_run() {
    local workload=$1 traced=$2 guest console
    guest=$([ "$workload" = probe ] && echo probe-compare || echo linux)
    console="$out/ours-$workload-$traced.console"
    local words=()
    [ "$workload" = probe ] && words+=("ops=$iterations")
    if [ "$traced" = on ]; then
        "$hvtrace" record --guest "$guest" --deterministic --no-build --quiet -o "$out/ours-$workload.hvt" \
            ${words:+--append "${words[*]}"} >"$console" 2>"$console.stderr"
    else
        "$hvtrace" run --guest "$guest" --deterministic --no-build --quiet --append "trace=off${words:+ ${words[*]}}" \
            >"$console" 2>"$console.stderr"
    fi
    log "ours $workload, tracing $traced: done"
}

# kvm_run WORKLOAD TRACED [CAPTURE]: the KVM reference machine.
kvm_run() {
    local workload=$1 traced=$2 capture=${3:-} arguments=()
    arguments=(--workload "$([ "$workload" = probe ] && echo probe-compare || echo linux)" --variant "$variant")
    [ "$workload" = probe ] && arguments+=(--iterations "$iterations")
    if [ "$traced" = on ]; then
        arguments+=(--ftrace)
        [ -n "$capture" ] && arguments+=(--capture "$capture")
    fi
    "$hvtrace" kvm run "${arguments[@]}" >"$out/kvm-$workload-$traced.console" 2>"$out/kvm-$workload-$traced.console.stderr"
    log "KVM $workload, tracing $traced: done"
}

ours_run probe off
ours_run probe on
kvm_run probe off
kvm_run probe on "$out/kvm-probe.trace"
if [ "$probe_only" -eq 0 ]; then
    ours_run linux off
    ours_run linux on
    kvm_run linux off
    kvm_run linux on "$([ "$linux_capture" -eq 1 ] && echo "$out/kvm-linux.trace")"
fi

kvm_mode=$(sed -n 's/^hvkvm: kvm ready mode=\([a-z]*\).*/\1/p' "$out/kvm-probe-off.console" | head -n1)
kernel=$(sed -n 's/^hvkvm: kvm ready .*kernel=\(.*\)$/\1/p' "$out/kvm-probe-off.console" | head -n1)
cpu=$([ "$variant" = nvhe ] && echo "cortex-a72" || echo "max,pauth-impdef=on (KVM side)")
machine="QEMU $(qemu-system-aarch64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p') TCG, -cpu $cpu, -icount shift=0,sleep=off (1 ns = 1 instruction); KVM: Linux $kernel at L1 ($kvm_mode), in-kernel vGICv2, hvtrace-vmm; probe: $iterations iterations per loop (timer rows: 50 samples)."
echo "== ours vs KVM ($out)"
"$hvtrace" kvm table "$out" --format "$format" --machine "$machine" --check

for workload in probe linux; do
    [ -f "$out/kvm-$workload.trace" ] || continue
    "$hvtrace" import "$out/kvm-$workload.trace" -o "$out/kvm-$workload.hvt" >/dev/null 2>"$out/kvm-$workload.import.stderr"
    echo
    echo "== per exit reason: KVM (base) against ours (candidate), $workload, both traced"
    # compare exits 1 when a reason is slower under ours than under KVM: shown, not fatal here.
    "$hvtrace" compare "$out/kvm-$workload.hvt" "$out/ours-$workload.hvt" || true
done
log "finished in $((SECONDS - started)) s"

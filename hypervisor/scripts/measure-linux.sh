#!/usr/bin/env bash
# Boot-to-marker time of the Linux guest under the hypervisor vs directly on QEMU, alternating the
# two so both see the same machine load. The direct run gets the same kernel, initramfs, RAM size
# (256 MiB), guest DTB (the one GuestDeviceTree builds, from Tests/Fixtures/good/guest-linux-2cpu.dts)
# and guest command line as the hypervisor gives its VM.
#
# Usage: hypervisor/scripts/measure-linux.sh [--deterministic] [--runs N (default 3)]
# Prints one line per run and the ratios of the medians (wall: QEMU start to the console line;
# printk: the guest's timestamp of the marker's kernel-log copy, virtual time with --deterministic).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo=$(cd "$here/.." && pwd)
deterministic=0
runs=3
while [ $# -gt 0 ]; do
    case "$1" in
        --deterministic) deterministic=1 ;;
        --runs) runs=${2:?}; shift ;;
        *) echo "measure-linux: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
mode_flag=()
[ "$deterministic" -eq 1 ] && mode_flag=(--deterministic)

dtb=$(mktemp "${TMPDIR:-/tmp}/hvtrace-guest-dtb.XXXXXX")
trap 'rm -f "$dtb"' EXIT
dtc -q -I dts -O dtb -o "$dtb" "$repo/Tests/Fixtures/good/guest-linux-2cpu.dts"
make -s -C "$here" all

# field LINE WORD: the value after WORD on the summary line (e.g. "wall", "printk").
pick() { awk -v w="$2" '{ for (i = 1; i < NF; i++) if ($i == w) { print $(i + 1); exit } }' <<<"$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

results=$(mktemp "${TMPDIR:-/tmp}/hvtrace-measure.XXXXXX")
trap 'rm -f "$dtb" "$results"' EXIT
for run in $(seq 1 "$runs"); do
    direct=$("$repo/scripts/run-linux-direct.sh" "${mode_flag[@]}" --quiet --memory 256M --dtb "$dtb" \
        --append "earlycon=pl011,0x09000000 rdinit=/init" 2>/dev/null)
    direct_init=$(grep "init marker:" <<<"$direct"); direct_done=$(grep "done marker:" <<<"$direct")
    hv=$("$here/scripts/test-linux.sh" "${mode_flag[@]}" 2>&1)
    hv_init=$(grep "init marker:" <<<"$hv"); hv_done=$(grep "done marker:" <<<"$hv")
    printf '%s direct %s %s %s %s\n' "$run" "$(pick "$direct_init" wall)" "$(pick "$direct_init" printk)" \
        "$(pick "$direct_done" wall)" "$(pick "$direct_done" printk)" >>"$results"
    printf '%s hv %s %s %s %s\n' "$run" "$(pick "$hv_init" wall)" "$(pick "$hv_init" printk)" \
        "$(pick "$hv_done" wall)" "$(pick "$hv_done" printk)" >>"$results"
    grep -E '^  hv: vcpu' <<<"$hv" | sed "s/^/run $run: /"
done

echo "run  where   init-wall  init-printk  done-wall  done-printk"
awk '{ printf "%-4s %-7s %9s s %10s s %8s s %10s s\n", $1, $2, $3, $4, $5, $6 }' "$results"
ratio() {  # ratio COLUMN: median(hv) / median(direct)
    local h d
    h=$(awk -v c="$1" '$2 == "hv" { print $c }' "$results" | median)
    d=$(awk -v c="$1" '$2 == "direct" { print $c }' "$results" | median)
    awk -v h="$h" -v d="$d" 'BEGIN { printf "%s / %s = %.3f", h, d, h / d }'
}
echo "median ratios (hypervisor / direct):"
echo "  init marker: wall $(ratio 3)   printk $(ratio 4)"
echo "  done marker: wall $(ratio 5)   printk $(ratio 6)"

#!/usr/bin/env bash
# Boots the Linux guest (Debian's arm64 kernel + our initramfs) directly on QEMU, without the
# hypervisor: the baseline that hvtrace's "Linux under the hypervisor" numbers are compared to.
# QEMU is started by `hvtrace run --direct` (the one launcher), so the machine is the one the
# hypervisor runs get, minus the hypervisor.
#
# Prints the console, then a summary: wall time from QEMU's start to the init marker and to the
# done marker (measured by this script), and the guest's own clock at both markers (the printk
# timestamp of the marker's kernel-log copy and /proc/uptime). With --deterministic, QEMU runs
# under -icount, so the guest's clock is virtual time and repeatable.
#
# Usage: scripts/run-linux-direct.sh [--deterministic] [--timeout SECONDS] [--cpus N]
#                                    [--append "EXTRA ARGS"] [--memory SIZE] [--dtb FILE] [--shell] [--quiet]
#   --deterministic   -icount shift=0,sleep=off, dtb-randomness=off, a fixed virtual RTC
#   --timeout S       stop QEMU after S seconds (default 180); exit status 124 then
#   --cpus N          vCPUs (-smp, default 2; --smp N is the same)
#   --memory SIZE     guest RAM (-m, default 256M: the hypervisor's Linux VM's default)
#   --append ARGS     extra words for the kernel command line (hvtrace run --guest-append)
#   --dtb FILE        give Linux this DTB instead of QEMU's own (QEMU still rewrites /chosen and
#                     /memory in it); used to check the hypervisor's guest DTB on plain QEMU
#   --shell           boot into the interactive busybox shell (hvtrace.shell=1), no timeout
#   --quiet           print only the marker lines and the summary, not the whole console
# Exit status: 0 when hvtrace exited 0 and scripts/check-linux-console.sh found every workload
# marker in order.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
linux_dir="$repo_root/cache/guests/linux"
# shellcheck source=../hypervisor/guests/linux/markers.txt
. "$repo_root/hypervisor/guests/linux/markers.txt"

deterministic=0
timeout_seconds=180
smp=2
extra_append=""
shell=0
quiet=0
memory=256M
dtb=""
while [ $# -gt 0 ]; do
    case "$1" in
        --deterministic) deterministic=1 ;;
        --timeout) timeout_seconds=${2:?}; shift ;;
        --smp | --cpus) smp=${2:?}; shift ;;
        --append) extra_append=${2:?}; shift ;;
        --memory) memory=${2:?}; shift ;;
        --dtb) dtb=${2:?}; shift ;;
        --shell) shell=1 ;;
        --quiet) quiet=1 ;;
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run-linux-direct: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

for file in Image initramfs.cpio.gz; do
    [ -f "$linux_dir/$file" ] || { echo "run-linux-direct: no $linux_dir/$file; run scripts/setup-guests.sh first" >&2; exit 1; }
done

repo=$repo_root
. "$repo_root/scripts/hvtrace-command.sh"
launch=("$hvtrace" run --direct --guest linux --root "$repo_root" --cpus "$smp" --memory "$memory")
[ "$deterministic" -eq 1 ] && launch+=(--deterministic)
[ -n "$extra_append" ] && launch+=(--guest-append "$extra_append")
[ -n "$dtb" ] && launch+=(--dtb "$dtb")

if [ "$shell" -eq 1 ]; then
    exec "${launch[@]}" --shell
fi

echo "run-linux-direct: $("${launch[@]}" --dry-run)" >&2
log=$(mktemp "${TMPDIR:-/tmp}/hvtrace-direct.XXXXXX")
trap 'rm -f "$log" "$log.console"' EXIT

start=$EPOCHREALTIME
set +e
timeout --foreground -k 5 "$((timeout_seconds + 30))" "${launch[@]}" --timeout "$timeout_seconds" </dev/null 2>&1 |
    while IFS= read -r line; do
        line=${line%$'\r'}
        now=$EPOCHREALTIME
        printf '%s\t%s\n' "$now" "$line" >>"$log"
        case "$line" in
            *"$HVTRACE_LINUX_INIT_MARKER"* | *"$HVTRACE_LINUX_DONE_MARKER"* | \
                *"$HVTRACE_LINUX_HELLO_MARKER"* | *"$HVTRACE_LINUX_CPUS_MARKER"* | *"$HVTRACE_LINUX_IO_MARKER"*)
                printf '%s\n' "$line" ;;
            *) [ "$quiet" -eq 1 ] || printf '%s\n' "$line" ;;
        esac
    done
qemu_status=${PIPESTATUS[0]}
set -e
end=$EPOCHREALTIME

# wall_to MARKER, printk_of MARKER
# shellcheck source=../hypervisor/guests/linux/console-timing.sh
. "$repo_root/hypervisor/guests/linux/console-timing.sh"
# The uptime= value /init printed on marker $1's line.
uptime_of() {
    awk -F'\t' -v marker="$1 uptime=" 'index($2, marker) { sub(/.*uptime=/, "", $2); printf "%s", $2; found = 1; exit }
        END { if (!found) printf "-" }' "$log"
}

mode=$([ "$deterministic" -eq 1 ] && echo "deterministic (-icount shift=0)" || echo "free-running")
echo "run-linux-direct: summary ($mode, -smp $smp)"
echo "  init marker:  wall $(wall_to "$HVTRACE_LINUX_INIT_MARKER") s   guest printk $(printk_of "$HVTRACE_LINUX_INIT_MARKER") s   uptime $(uptime_of "$HVTRACE_LINUX_INIT_MARKER") s"
echo "  done marker:  wall $(wall_to "$HVTRACE_LINUX_DONE_MARKER") s   guest printk $(printk_of "$HVTRACE_LINUX_DONE_MARKER") s   uptime $(uptime_of "$HVTRACE_LINUX_DONE_MARKER") s"
echo "  QEMU exit:    wall $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') s, status $qemu_status"

if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    echo "run-linux-direct: FAIL: timed out after ${timeout_seconds}s" >&2
    exit 124
fi
[ "$qemu_status" -eq 0 ] || { echo "run-linux-direct: FAIL: hvtrace run --direct exited with $qemu_status" >&2; exit 1; }
cut -f2- "$log" >"$log.console"
"$repo_root/scripts/check-linux-console.sh" "$log.console" "$smp" || exit 1
exit 0

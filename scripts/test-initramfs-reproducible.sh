#!/usr/bin/env bash
# Checks that the Linux guest's initramfs is reproducible: builds it twice from the cached
# busybox (scripts/setup-guests.sh must have run once) with different umasks, at different
# wall-clock times, in different staging directories, and requires identical sha256 sums.
# Also checks the archive's contents: owner 0:0, fixed mtimes, sorted names, the /init script.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hvtrace-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(umask 022 && "$repo_root/scripts/setup-guests.sh" --initramfs-only "$work/first.cpio.gz")
sleep 1.1
(umask 077 && TMPDIR="$work" "$repo_root/scripts/setup-guests.sh" --initramfs-only "$work/second.cpio.gz")

first=$(sha256sum <"$work/first.cpio.gz" | cut -d' ' -f1)
second=$(sha256sum <"$work/second.cpio.gz" | cut -d' ' -f1)
echo "first  build: $first ($(stat -c %s "$work/first.cpio.gz") bytes)"
echo "second build: $second ($(stat -c %s "$work/second.cpio.gz") bytes)"
[ "$first" = "$second" ] || fail "the two builds differ"

# gzip -n: no name, and MTIME field (bytes 4..7) zero.
[ "$(od -An -tx1 -j4 -N4 "$work/first.cpio.gz" | tr -d ' ')" = "00000000" ] || fail "gzip header carries a timestamp"

listing=$(gzip -dc "$work/first.cpio.gz" | cpio -itv --quiet 2>/dev/null)
names=$(gzip -dc "$work/first.cpio.gz" | cpio -it --quiet 2>/dev/null)
[ "$names" = "$(printf '%s\n' "$names" | LC_ALL=C sort)" ] || fail "file list is not sorted"
echo "$listing" | awk '$3 != "root" || $4 != "root" { bad = 1 } END { exit bad }' || fail "an entry is not owned by 0:0"
echo "$listing" | grep -q ' init$' || fail "no /init in the archive"
gzip -dc "$work/first.cpio.gz" | (cd "$work" && cpio -id --quiet init etc/hvtrace/markers.txt 2>/dev/null)
cmp -s "$work/init" "$repo_root/hypervisor/guests/linux/init" || fail "/init differs from hypervisor/guests/linux/init"
cmp -s "$work/etc/hvtrace/markers.txt" "$repo_root/hypervisor/guests/linux/markers.txt" || fail "markers.txt differs"
echo "PASS: initramfs is reproducible ($first)"

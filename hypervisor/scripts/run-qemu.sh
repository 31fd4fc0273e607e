#!/bin/sh
# Boots a guest under the hypervisor in QEMU: `hvtrace run`, the one launcher (it builds the
# hypervisor first and exits 0 only when the guest reached its own end; 1 when the hypervisor
# refused the configuration or panicked; 124 on --timeout). Every `hvtrace run` option works here.
#   run-qemu.sh GUEST [hvtrace run options] [-- extra QEMU arguments]
#   run-qemu.sh probe|hostile|probe-compare|nimbos-contract -- -icount shift=0,sleep=off
#   run-qemu.sh nimbos path/to/nimbos.bin [options]          (the same as --image path/to/nimbos.bin)
#   run-qemu.sh linux [--shell] [--cpus N] [--vcpus N] [--memory SIZE] [--guest-append "WORDS"] [--direct]
# HV_BOOTARGS adds boot arguments after guest=NAME (e.g. HV_BOOTARGS="seed=7 ops=20000").
# linux: Debian's arm64 Image and the busybox initramfs from cache/guests/linux (made by
# scripts/setup-guests.sh, run here when they are missing). `hvtrace run --help` lists the options.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
guest=${1:?usage: run-qemu.sh GUEST [IMAGE] [hvtrace run options] [-- qemu args]}
shift
if [ "$guest" = nimbos ] && [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    image=$1; shift
    set -- --image "$image" "$@"
fi
if [ "$guest" = linux ] && { [ ! -f "$repo/cache/guests/linux/Image" ] || [ ! -f "$repo/cache/guests/linux/initramfs.cpio.gz" ]; }; then
    "$repo/scripts/setup-guests.sh" >&2
fi
. "$repo/scripts/hvtrace-command.sh"
if [ -n "${HV_BOOTARGS:-}" ]; then set -- --append "$HV_BOOTARGS" "$@"; fi
exec "$hvtrace" run --guest "$guest" --root "$repo" --quiet "$@"

#!/bin/sh
# Boots a guest under the hypervisor in QEMU and exits with QEMU's status.
#   scripts/run-qemu.sh probe|hostile|probe-compare|nimbos-contract [extra qemu args]
#   scripts/run-qemu.sh nimbos path/to/nimbos.bin [extra qemu args]
#   scripts/run-qemu.sh linux [--shell] [--append "GUEST WORDS"] [extra qemu args]
# HV_BOOTARGS adds boot arguments after guest=NAME (e.g. HV_BOOTARGS="seed=7 ops=20000").
# Builds the hypervisor first when needed. Machine shape fixed in notes/common.md.
# linux: Debian's arm64 Image and the busybox initramfs from cache/guests/linux (made by
# scripts/setup-guests.sh, run here when they are missing); --shell gives the interactive busybox
# shell (hvtrace.shell=1; `exit` powers off, Ctrl-A x quits QEMU); --append adds words to the
# guest's command line.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
guest=${1:?usage: run-qemu.sh GUEST [IMAGE] [qemu args]}
shift
make -s -C "$here" all >&2
append="guest=$guest${HV_BOOTARGS:+ $HV_BOOTARGS}"
case "$guest" in
  probe|hostile|probe-compare|nimbos-contract)
    set -- -device loader,file="$here/build/probe.bin",addr=0x50080000,force-raw=on "$@" ;;
  nimbos)
    image=${1:?usage: run-qemu.sh nimbos path/to/nimbos.bin}; shift
    set -- -device loader,file="$image",addr=0x50080000,force-raw=on "$@" ;;
  linux)
    linux_dir="$repo/cache/guests/linux"
    if [ ! -f "$linux_dir/Image" ] || [ ! -f "$linux_dir/initramfs.cpio.gz" ]; then
      "$repo/scripts/setup-guests.sh" >&2
    fi
    guest_words=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --shell) guest_words="$guest_words hvtrace.shell=1"; shift ;;
        --append) guest_words="$guest_words ${2:?--append needs words}"; shift 2 ;;
        *) break ;;
      esac
    done
    initrd_size=$(wc -c < "$linux_dir/initramfs.cpio.gz")
    append="$append initrd_size=$(printf '0x%x' "$initrd_size")"
    [ -n "$guest_words" ] && append="$append --$guest_words"
    # Image at PA 0x5020_0000 = IPA 0x4020_0000, initramfs at PA 0x5800_0000 = IPA 0x4800_0000;
    # the hypervisor writes the guest DTB at IPA 0x4FE0_0000. -no-reboot: a guest panic
    # (SYSTEM_RESET) ends the run instead of looping.
    set -- -no-reboot \
      -device loader,file="$linux_dir/Image",addr=0x50200000,force-raw=on \
      -device loader,file="$linux_dir/initramfs.cpio.gz",addr=0x58000000,force-raw=on "$@" ;;
  *)
    echo "run-qemu.sh: unknown guest '$guest' (probe, hostile, probe-compare, nimbos-contract, nimbos, linux)" >&2; exit 2 ;;
esac
# VM 0's RAM is PA 0x5000_0000 = guest IPA 0x4000_0000.
exec qemu-system-aarch64 -M virt,virtualization=on,gic-version=2 -cpu cortex-a72 -smp 2 -m 1G \
  -nographic -kernel "$here/build/hv.elf" -append "$append" "$@"

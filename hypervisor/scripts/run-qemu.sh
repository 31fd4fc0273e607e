#!/bin/sh
# Boots a guest under the hypervisor in QEMU and exits with QEMU's status.
#   scripts/run-qemu.sh probe|nimbos-contract [extra qemu args]
#   scripts/run-qemu.sh nimbos path/to/nimbos.bin [extra qemu args]
# Builds the hypervisor first when needed. Machine shape fixed in notes/common.md.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
guest=${1:?usage: run-qemu.sh GUEST [IMAGE] [qemu args]}
shift
make -s -C "$here" all >&2
case "$guest" in
  probe|nimbos-contract)
    image="$here/build/probe.bin" ;;
  nimbos)
    image=${1:?usage: run-qemu.sh nimbos path/to/nimbos.bin}; shift ;;
  *)
    echo "run-qemu.sh: unknown guest '$guest' (probe, nimbos-contract, nimbos)" >&2; exit 2 ;;
esac
# Guest image at PA 0x5008_0000 = guest IPA 0x4008_0000 (VM 0's RAM is PA 0x5000_0000).
exec qemu-system-aarch64 -M virt,virtualization=on,gic-version=2 -cpu cortex-a72 -smp 2 -m 1G \
  -nographic -kernel "$here/build/hv.elf" -append "guest=$guest" \
  -device loader,file="$image",addr=0x50080000,force-raw=on "$@"

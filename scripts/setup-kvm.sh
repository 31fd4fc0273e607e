#!/usr/bin/env bash
# Builds the KVM reference machine into the git-ignored cache, from Debian packages and our own
# sources only (issue 12):
#
#   L1 kernel         cache/guests/linux/Image: the same Debian arm64 Image the Linux guest runs
#                     (scripts/setup-guests.sh fetches it); booted at EL2 it brings up KVM
#   cache/kvm/hvtrace-vmm        our VMM (hypervisor/guests/kvm/*.c), static, built with Debian's
#                                gcc-aarch64-linux-gnu + libc6-dev-arm64-cross
#   cache/kvm/initramfs.cpio     L1's initramfs (uncompressed cpio: nothing to inflate under TCG):
#                                busybox, /init (hypervisor/guests/kvm/init), hvtrace-vmm, trace-cmd
#                                with its libraries, and the L2 guests: hypervisor/build/probe.bin,
#                                the Linux guest's Image and initramfs
#   cache/kvm/versions.txt       the packages it was built from
#
# Cached: the debs are fetched once, the VMM is rebuilt when its sources change, the initramfs
# when any input changes (sha256 of all inputs in cache/kvm/initramfs.inputs). Needs root the first
# time (apt-get). Reproducible like the Linux guest's initramfs (sorted, fixed mtimes, 0:0).
#
# Usage: scripts/setup-kvm.sh [--refresh]   (--refresh: fetch the debs again)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kvm_src="$repo_root/hypervisor/guests/kvm"
linux_dir="$repo_root/cache/guests/linux"
kvm_dir="$repo_root/cache/kvm"
debs_dir="$kvm_dir/debs"
probe="$repo_root/hypervisor/build/probe.bin"
default_source_date_epoch=1704067200
cross_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross cpio)
# trace-cmd for arm64 and its shared-library closure (Depends of trace-cmd 3.1 in bookworm).
l1_packages=(trace-cmd libtraceevent1 libtracefs1 libzstd1 libtraceevent1-plugin libc6)

refresh=0
case "${1:-}" in
    --refresh) refresh=1 ;;
    "") ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "setup-kvm: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

log() { echo "setup-kvm: $*" >&2; }
die() { echo "setup-kvm: error: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (run once as root to fill the cache)"; }

# --- Host packages: the cross compiler -------------------------------------------------------
"$repo_root/scripts/install-debian-packages.sh" "${cross_packages[@]}"

# --- Inputs from the other set-up steps -------------------------------------------------------
if [ ! -f "$linux_dir/Image" ] || [ ! -f "$linux_dir/initramfs.cpio.gz" ] || [ ! -f "$linux_dir/busybox" ]; then
    "$repo_root/scripts/setup-guests.sh" >/dev/null
fi
# The probe binary L2 runs must be the one our hypervisor runs: build it (a no-op when current).
make -s -C "$repo_root/hypervisor" build/probe.bin >&2
[ -f "$probe" ] || die "no $probe after make"

# --- arm64 packages for L1 --------------------------------------------------------------------
if [ "$refresh" -eq 1 ] || [ ! -f "$debs_dir/resolved.txt" ]; then
    need_root "fetching the arm64 packages"
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update -qq
    rm -rf "$debs_dir.new"
    mkdir -p "$debs_dir.new"
    (cd "$debs_dir.new" && apt-get download -q -o APT::Sandbox::User=root "${l1_packages[@]/%/:arm64}" >/dev/null)
    for deb in "$debs_dir.new"/*.deb; do
        echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(basename "$deb")"
    done | sort >"$debs_dir.new/resolved.txt"
    rm -rf "$debs_dir"
    mv "$debs_dir.new" "$debs_dir"
    log "arm64 packages: $(cut -d' ' -f1,2 "$debs_dir/resolved.txt" | tr '\n' ' ')"
fi

# --- The VMM ----------------------------------------------------------------------------------
vmm_inputs=$(cat "$kvm_src"/*.c "$kvm_src"/*.h | sha256sum | cut -d' ' -f1)
if [ ! -x "$kvm_dir/hvtrace-vmm" ] || [ "$(cat "$kvm_dir/hvtrace-vmm.inputs" 2>/dev/null)" != "$vmm_inputs" ]; then
    mkdir -p "$kvm_dir"
    aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$kvm_dir/hvtrace-vmm.tmp" \
        "$kvm_src/vmm.c" "$kvm_src/fdt.c" "$kvm_src/devices.c"
    mv "$kvm_dir/hvtrace-vmm.tmp" "$kvm_dir/hvtrace-vmm"
    echo "$vmm_inputs" >"$kvm_dir/hvtrace-vmm.inputs"
    log "hvtrace-vmm: $(stat -c %s "$kvm_dir/hvtrace-vmm") bytes"
fi

# --- L1's initramfs ---------------------------------------------------------------------------
inputs_hash() {
    { cat "$0" "$kvm_src/init" "$kvm_src/markers.txt" "$repo_root/hypervisor/guests/linux/markers.txt" \
          "$kvm_dir/hvtrace-vmm" "$linux_dir/busybox" "$probe" "$linux_dir/initramfs.cpio.gz" "$debs_dir/resolved.txt"
      sha256sum "$linux_dir/Image"
      echo "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$default_source_date_epoch}"; } | sha256sum | cut -d' ' -f1
}
hash=$(inputs_hash)
if [ -f "$kvm_dir/initramfs.cpio" ] && [ "$(cat "$kvm_dir/initramfs.inputs" 2>/dev/null)" = "$hash" ]; then
    log "L1 initramfs up to date"
else
    staging=$(mktemp -d "${TMPDIR:-/tmp}/hvtrace-kvm-initramfs.XXXXXX")
    trap 'rm -rf "$staging"' EXIT
    root="$staging/root"
    mkdir -p "$root"/{bin,dev,proc,sys,tmp,guest,etc/hvkvm,lib/aarch64-linux-gnu,usr/bin,usr/lib}
    for deb in "$debs_dir"/*.deb; do dpkg-deb -x "$deb" "$staging/packages"; done
    # trace-cmd and the libraries it loads (the loader, libc, its own three, zstd, the plugins).
    cp "$staging/packages/usr/bin/trace-cmd" "$root/usr/bin/"
    cp -L "$staging/packages/lib/aarch64-linux-gnu/"{ld-linux-aarch64.so.1,libc.so.6} "$root/lib/aarch64-linux-gnu/"
    ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
    mkdir -p "$root/usr/lib/aarch64-linux-gnu"
    cp -a "$staging/packages/usr/lib/aarch64-linux-gnu/"{libtraceevent.so.1*,libtracefs.so.1*,libzstd.so.1*,traceevent} \
        "$root/usr/lib/aarch64-linux-gnu/"
    cp "$linux_dir/busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    cp "$kvm_dir/hvtrace-vmm" "$root/bin/hvtrace-vmm"
    cp "$kvm_src/init" "$root/init"
    cp "$kvm_src/markers.txt" "$root/etc/hvkvm/markers.txt"
    cp "$repo_root/hypervisor/guests/linux/markers.txt" "$root/etc/hvkvm/linux-markers.txt"
    cp "$probe" "$root/guest/probe.bin"
    cp "$linux_dir/Image" "$linux_dir/initramfs.cpio.gz" "$root/guest/"
    [ "$(id -u)" -eq 0 ] && mknod -m 600 "$root/dev/console" c 5 1
    epoch=${SOURCE_DATE_EPOCH:-$default_source_date_epoch}
    find "$root" -type d -exec chmod 0755 {} +
    find "$root" -type f -exec chmod 0644 {} +
    chmod 0755 "$root/init" "$root/bin/busybox" "$root/bin/hvtrace-vmm" "$root/usr/bin/trace-cmd" \
        "$root/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"
    find "$root" -exec touch -h -d "@$epoch" {} +
    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) >"$kvm_dir/initramfs.cpio.tmp"
    mv "$kvm_dir/initramfs.cpio.tmp" "$kvm_dir/initramfs.cpio"
    echo "$hash" >"$kvm_dir/initramfs.inputs"
    {
        echo "l1_kernel=$(sed -n 's/^kernel_package=//p' "$linux_dir/versions.txt") $(sed -n 's/^kernel_version=//p' "$linux_dir/versions.txt")"
        sed 's/^/l1_package=/' "$debs_dir/resolved.txt"
        echo "cross_compiler=$(aarch64-linux-gnu-gcc --version | head -n1)"
    } >"$kvm_dir/versions.txt"
    log "L1 initramfs: $(stat -c %s "$kvm_dir/initramfs.cpio") bytes, sha256 $(sha256sum "$kvm_dir/initramfs.cpio" | cut -d' ' -f1)"
fi
echo "$linux_dir/Image"
echo "$kvm_dir/initramfs.cpio"

#!/usr/bin/env bash
# Fetches the Linux guest's inputs and builds its images into the git-ignored cache.
#
#   cache/guests/linux/Image               Debian's unmodified arm64 kernel (raw arm64 Image)
#   cache/guests/linux/initramfs.cpio.gz   busybox initramfs with hypervisor/guests/linux/init
#   cache/guests/linux/versions.txt        the resolved package names and versions
#
# The kernel package is resolved at run time through Debian's `linux-image-arm64` meta package
# (its Depends names the current linux-image-<abi>-arm64); busybox comes from `busybox-static`.
# Both are fetched with `apt-get download` for arm64 and unpacked with `dpkg-deb -x`; nothing
# downloaded is committed. Needs root the first time (dpkg --add-architecture, apt-get update,
# apt-get install cpio); later runs reuse the cached .debs and only rebuild the initramfs when
# its inputs changed.
#
# The initramfs is reproducible: sorted file list, every mtime = SOURCE_DATE_EPOCH, owner 0:0,
# normalised modes, `cpio --reproducible` (no inode/device numbers), `gzip -n`.
#
# Usage: scripts/setup-guests.sh [--refresh] [--initramfs-only OUT.cpio.gz]
#   --refresh                   re-resolve and re-download the packages even when cached
#   --initramfs-only OUT        build only the initramfs, from the cached busybox, into OUT
#                               (used by scripts/test-initramfs-reproducible.sh)
# Environment: SOURCE_DATE_EPOCH (file time inside the initramfs; default 1704067200 = 2024-01-01).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir="$repo_root/cache/guests"
debs_dir="$cache_dir/debs"
linux_dir="$cache_dir/linux"
guest_src="$repo_root/hypervisor/guests/linux"
# 2024-01-01T00:00:00Z: a fixed file time, so the initramfs does not depend on git history.
default_source_date_epoch=1704067200

refresh=0
initramfs_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --refresh) refresh=1 ;;
        --initramfs-only) initramfs_only=${2:?"--initramfs-only needs an output path"}; shift ;;
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "setup-guests: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "setup-guests: $*" >&2; }
die() { echo "setup-guests: error: $*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1 needs root (run as root, or run once as root to fill the cache)"
}

# --- Packages -----------------------------------------------------------------------------

# Prints the name of the kernel package the arm64 meta package currently depends on.
resolve_kernel_package() {
    local depends
    depends=$(apt-cache show --no-all-versions linux-image-arm64:arm64 | sed -n 's/^Depends: //p' | head -n1)
    [ -n "$depends" ] || die "apt-cache shows no Depends for linux-image-arm64:arm64"
    # Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)[, ...]
    echo "$depends" | tr ',' '\n' | sed -n 's/^ *\(linux-image-[^ ]*\).*/\1/p' | head -n1
}

fetch_packages() {
    need_root "fetching packages"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "adding dpkg architecture arm64"
        dpkg --add-architecture arm64
    fi
    log "apt-get update"
    apt-get update -qq
    local kernel_package
    kernel_package=$(resolve_kernel_package)
    [ -n "$kernel_package" ] || die "could not resolve the kernel package from linux-image-arm64:arm64"
    log "kernel package: $kernel_package (via linux-image-arm64)"

    rm -rf "$debs_dir.new"
    mkdir -p "$debs_dir.new"
    # Download into a fresh directory; the sandbox user cannot write to it, so download as root.
    (cd "$debs_dir.new" && apt-get download -q -o APT::Sandbox::User=root \
        "$kernel_package:arm64" "busybox-static:arm64")
    local kernel_deb busybox_deb
    kernel_deb=$(ls "$debs_dir.new"/linux-image-*_arm64.deb)
    busybox_deb=$(ls "$debs_dir.new"/busybox-static_*_arm64.deb)
    {
        echo "kernel_package=$kernel_package"
        echo "kernel_version=$(dpkg-deb -f "$kernel_deb" Version)"
        echo "kernel_deb=$(basename "$kernel_deb")"
        echo "busybox_version=$(dpkg-deb -f "$busybox_deb" Version)"
        echo "busybox_deb=$(basename "$busybox_deb")"
    } >"$debs_dir.new/resolved.txt"
    rm -rf "$debs_dir"
    mv "$debs_dir.new" "$debs_dir"
}

# Unpacks the cached .debs (dpkg-deb -x) and keeps what the guest needs.
extract_packages() {
    local resolved="$debs_dir/resolved.txt" kernel_deb busybox_deb unpack
    kernel_deb="$debs_dir/$(sed -n 's/^kernel_deb=//p' "$resolved")"
    busybox_deb="$debs_dir/$(sed -n 's/^busybox_deb=//p' "$resolved")"
    unpack="$cache_dir/unpack"
    rm -rf "$unpack"
    mkdir -p "$unpack/kernel" "$unpack/busybox" "$linux_dir"

    log "extracting $(basename "$kernel_deb")"
    dpkg-deb -x "$kernel_deb" "$unpack/kernel"
    local vmlinuz
    vmlinuz=$(ls "$unpack"/kernel/boot/vmlinuz-*)
    install_kernel_image "$vmlinuz" "$linux_dir/Image"
    cp "$unpack"/kernel/boot/config-* "$linux_dir/kernel.config"

    log "extracting $(basename "$busybox_deb")"
    dpkg-deb -x "$busybox_deb" "$unpack/busybox"
    cp "$unpack/busybox/bin/busybox" "$linux_dir/busybox"

    cp "$resolved" "$linux_dir/versions.txt"
    # The modules (~350 MB unpacked) are not needed: everything the guest uses is built in.
    rm -rf "$unpack"
}

# Copies Debian's vmlinuz to a raw arm64 Image, decompressing it if it is gzip, and checks the
# arm64 Image header (Documentation/arm64/booting.rst: magic "ARM\x64" at offset 0x38).
install_kernel_image() {
    local source=$1 target=$2
    if [ "$(head -c2 "$source" | od -An -tx1 | tr -d ' ')" = "1f8b" ]; then
        log "vmlinuz is gzip-compressed: decompressing"
        gzip -dc "$source" >"$target.tmp"
    else
        cp "$source" "$target.tmp"
    fi
    local magic
    magic=$(dd if="$target.tmp" bs=1 skip=56 count=4 2>/dev/null | od -An -tx1 | tr -d ' ')
    [ "$magic" = "41524d64" ] || die "$source is not a raw arm64 Image (magic at 0x38 is '$magic', want 41524d64)"
    mv "$target.tmp" "$target"
    # text_offset (u64 at 0x08) and image_size (u64 at 0x10), little-endian.
    log "Image: $(stat -c %s "$target") bytes, text_offset=0x$(od -An -tx8 -j8 -N8 "$target" | tr -d ' '), image_size=0x$(od -An -tx8 -j16 -N8 "$target" | tr -d ' ')"
}

# --- Initramfs ----------------------------------------------------------------------------

# Builds the initramfs into $1 from the cached busybox and the files in hypervisor/guests/linux.
build_initramfs() {
    local output=$1 busybox="$linux_dir/busybox"
    [ -x "$busybox" ] || die "no cached busybox at $busybox (run scripts/setup-guests.sh as root first)"
    if ! command -v cpio >/dev/null; then
        need_root "installing cpio"
        apt-get install -y -qq cpio >/dev/null
    fi
    local epoch=${SOURCE_DATE_EPOCH:-$default_source_date_epoch}

    local staging
    staging=$(mktemp -d "${TMPDIR:-/tmp}/hvtrace-initramfs.XXXXXX")
    trap 'rm -rf "$staging"' RETURN
    local root="$staging/root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc/hvtrace}
    cp "$busybox" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    cp "$guest_src/init" "$root/init"
    cp "$guest_src/markers.txt" "$root/etc/hvtrace/markers.txt"
    # The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
    if [ "$(id -u)" -eq 0 ]; then
        mknod -m 600 "$root/dev/console" c 5 1
    fi

    # Normalise everything that could differ between two checkouts or umasks.
    find "$root" -type d -exec chmod 0755 {} +
    find "$root" -type f -exec chmod 0644 {} +
    chmod 0755 "$root/init" "$root/bin/busybox"
    find "$root" -exec touch -h -d "@$epoch" {} +

    mkdir -p "$(dirname "$output")"
    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
        gzip -n -9 >"$output.tmp"
    mv "$output.tmp" "$output"
}

# Hash of everything the initramfs is built from (to skip rebuilding when nothing changed).
initramfs_inputs_hash() {
    { cat "$linux_dir/busybox" "$guest_src/init" "$guest_src/markers.txt" "$0"
      echo "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$default_source_date_epoch}"; } |
        sha256sum | cut -d' ' -f1
}

# --- Main ---------------------------------------------------------------------------------

if [ -n "$initramfs_only" ]; then
    build_initramfs "$initramfs_only"
    exit 0
fi

if [ "$refresh" -eq 1 ] || [ ! -f "$debs_dir/resolved.txt" ]; then
    fetch_packages
    rm -f "$linux_dir/versions.txt"
fi
if ! cmp -s "$debs_dir/resolved.txt" "$linux_dir/versions.txt" 2>/dev/null ||
    [ ! -f "$linux_dir/Image" ] || [ ! -f "$linux_dir/busybox" ]; then
    extract_packages
else
    log "packages unchanged: $(sed -n 's/^kernel_package=//p' "$linux_dir/versions.txt") $(sed -n 's/^kernel_version=//p' "$linux_dir/versions.txt"), busybox $(sed -n 's/^busybox_version=//p' "$linux_dir/versions.txt")"
fi

inputs_hash=$(initramfs_inputs_hash)
if [ -f "$linux_dir/initramfs.cpio.gz" ] && [ "$(cat "$linux_dir/initramfs.inputs" 2>/dev/null)" = "$inputs_hash" ]; then
    log "initramfs up to date"
else
    build_initramfs "$linux_dir/initramfs.cpio.gz"
    echo "$inputs_hash" >"$linux_dir/initramfs.inputs"
    log "initramfs: $(stat -c %s "$linux_dir/initramfs.cpio.gz") bytes, sha256 $(sha256sum "$linux_dir/initramfs.cpio.gz" | cut -d' ' -f1)"
fi
echo "$linux_dir/Image"
echo "$linux_dir/initramfs.cpio.gz"

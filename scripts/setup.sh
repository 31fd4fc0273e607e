#!/usr/bin/env bash
# Installs everything hvtrace needs beyond the Swift toolchain: libzstd (headers + pkg-config file)
# for the CZstd module, QEMU for the hypervisor, dtc, cpio and zstd; then fetches the Linux guest
# images into cache/ (scripts/setup-guests.sh). Idempotent and quiet; sudo only when not root.
set -euo pipefail

packages=(libzstd-dev pkg-config qemu-system-arm cpio device-tree-compiler zstd)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's arm64 kernel and busybox for the Linux guest (cached after the first run).
"$(dirname "$0")/setup-guests.sh"

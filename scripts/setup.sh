#!/usr/bin/env bash
# Installs what building hvtrace needs beyond the Swift toolchain: libzstd (headers + pkg-config
# file) for the CZstd module. Idempotent and quiet; uses sudo only when not already root.
set -euo pipefail

packages=(libzstd-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs everything hvtrace needs beyond the Swift toolchain: libzstd (headers + pkg-config file)
# for the CZstd module, QEMU for the hypervisor, dtc, cpio and zstd; then fetches the Linux guest
# images into cache/ (scripts/setup-guests.sh), the test readers (scripts/setup-test-readers.sh) and
# builds the KVM reference machine (scripts/setup-kvm.sh).
# Idempotent and quiet; sudo only when not root.
set -euo pipefail

"$(dirname "$0")/install-debian-packages.sh" libzstd-dev pkg-config qemu-system-arm cpio device-tree-compiler zstd

# Debian's arm64 kernel and busybox for the Linux guest (cached after the first run).
"$(dirname "$0")/setup-guests.sh"

# The real readers the tests check our HTML, exports and live view with (chromium, tmux, DuckDB,
# hdrhistogram, jsonschema).
"$(dirname "$0")/setup-test-readers.sh"
# The KVM reference machine: cross compiler, our VMM, trace-cmd for arm64, L1's initramfs (cached).
"$(dirname "$0")/setup-kvm.sh" >/dev/null

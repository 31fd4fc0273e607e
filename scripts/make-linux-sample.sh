#!/usr/bin/env bash
# Records the committed Linux sample and regenerates its report:
#   traces/linux-boot.hvt   Debian's arm64 kernel + busybox workload, 2 vCPUs, deterministic mode
#   reports/linux-boot.md   `hvtrace report --format markdown` + `hvtrace flame` text of that trace
# Usage: scripts/make-linux-sample.sh [--no-record]   (--no-record: only rebuild the report)
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product hvtrace >/dev/null
hvtrace="$(swift build -c release --show-bin-path)/hvtrace"

if [ "${1:-}" != "--no-record" ]; then
    scripts/setup-guests.sh >/dev/null
    "$hvtrace" record --guest linux --deterministic --timeout 300 --quiet -o traces/linux-boot.hvt >/dev/null
fi

{
    echo "# Linux boot under the hvtrace hypervisor"
    echo
    echo "Debian's arm64 6.1 kernel with the busybox initramfs (boot, workload, power-off), 2 vCPUs on"
    echo "2 physical CPUs, recorded in deterministic mode (QEMU \`-icount shift=0,sleep=off\`: one tick"
    echo "of the cycle-counter clock is one guest instruction). Regenerate with"
    echo "\`scripts/make-linux-sample.sh\`; the trace is \`traces/linux-boot.hvt\`."
    echo
    "$hvtrace" report traces/linux-boot.hvt --format markdown
    echo
    echo "## Where the hypervisor time goes (\`hvtrace flame\`)"
    echo
    echo '```'
    "$hvtrace" flame traces/linux-boot.hvt
    echo '```'
} > reports/linux-boot.md.partial
mv reports/linux-boot.md.partial reports/linux-boot.md
echo "wrote traces/linux-boot.hvt and reports/linux-boot.md"

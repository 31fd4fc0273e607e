# Sourced by the scripts that boot guests (hypervisor/scripts/run-qemu.sh, test-linux.sh,
# test-probe.sh, scripts/run-linux-direct.sh) with $repo set to the repository root: sets $hvtrace
# to the hvtrace executable, the one launcher of QEMU (`hvtrace run`, Sources/HVTrace/Launch).
# $HVTRACE wins: the integration tests pass the binary they were built with (a `swift build` inside
# `swift test` would wait on the build lock). Otherwise `swift build --product hvtrace` here.
if [ -n "${HVTRACE:-}" ]; then
    hvtrace=$HVTRACE
else
    hvtrace_build_log=$(cd "$repo" && swift build --product hvtrace 2>&1) || {
        printf '%s\n' "$hvtrace_build_log" >&2
        echo "$0: swift build --product hvtrace failed (set HVTRACE to an hvtrace executable to skip the build)" >&2
        exit 1
    }
    hvtrace="$(cd "$repo" && swift build --show-bin-path)/hvtrace"
fi

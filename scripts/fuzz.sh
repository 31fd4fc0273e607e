#!/usr/bin/env bash
# Fuzzes the trace decoder, the .hvt reader and the analyses with libFuzzer + AddressSanitizer.
#   scripts/fuzz.sh [SECONDS] [libFuzzer flags…]     default 600 s; CI runs `scripts/fuzz.sh 60`
#   HVTRACE_FUZZ_TARGET=page scripts/fuzz.sh 600 -jobs=2 -workers=2
#       pages only: the page/record decoder alone, ~100× more executions per second
# Builds Fuzz/ (its own package, so the main `swift build`/`swift test` never build it) with ASan
# and libFuzzer's coverage, seeds the corpus from the test fixtures, then runs. Exit status is
# libFuzzer's: 0 when nothing was found. A crash, hang (> 10 s per input) or allocation over
# 512 MiB is written to .build-fuzz/artifacts/; replay one with
#   .build-fuzz/HVTraceFuzz .build-fuzz/artifacts/crash-…
# then add it to Tests/Fixtures/bad/ with its expected error text (see FixtureTests).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true

work=.build-fuzz
target=${HVTRACE_FUZZ_TARGET:-all}
corpus="$work/corpus-$target"
mkdir -p "$corpus" "$work/artifacts"
runtime=$(dirname "$(command -v swiftc)")/../lib/clang
fuzzer_library=$(ls "$runtime"/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
# -sanitize=fuzzer would link libFuzzer's own main(), which clashes with the main SwiftPM gives an
# executable target; so: coverage flags by hand, libFuzzer without main, and LLVMFuzzerRunDriver.
swift build -c release --package-path Fuzz --scratch-path "$work/build" -j 2 \
    -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    -Xlinker "$fuzzer_library" -Xlinker -lstdc++ 2>&1 | grep -v "warning:" | tail -3
cp "$work/build/release/HVTraceFuzz" "$work/HVTraceFuzz"

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
scripts/fuzz-corpus.sh "$seeds" >/dev/null
if [ "$target" = page ]; then
    # Page seeds without their mode byte; the other seeds are not pages.
    for seed in "$seeds"/page-*; do tail -c +2 "$seed" > "$seed.raw" && rm "$seed"; done
    rm -f "$seeds"/file-* "$seeds"/stream-*
fi

# Swift's own crash backtracer would run under ASan and report itself; libFuzzer prints the trace.
export SWIFT_BACKTRACE=enable=no
# Merged corpus first (new seeds join it), then the timed run.
"$work/HVTraceFuzz" -max_len=20000 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 -max_total_time="$seconds" \
    "$@" "$corpus" "$seeds"

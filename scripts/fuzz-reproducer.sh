#!/usr/bin/env bash
# Turns a fuzzer artifact into a fixture: Tests/Fixtures/bad/fuzz-NAME.hvt (modes 1 and 2: the file
# the harness fed to the reader) or fuzz-NAME.page (mode 0, or any input of the page-only target:
# shape byte + page bytes). Then `HVTRACE_REGENERATE_FIXTURES=1 swift test --filter FuzzReproducer`
# writes its .expected; review it and commit both.
# Usage: scripts/fuzz-reproducer.sh ARTIFACT NAME [page]
set -euo pipefail
cd "$(dirname "$0")/.."
artifact=${1:?usage: scripts/fuzz-reproducer.sh ARTIFACT NAME [page]}
name=${2:?usage: scripts/fuzz-reproducer.sh ARTIFACT NAME [page]}
python3 - "$artifact" "Tests/Fixtures/bad/fuzz-$name" "${3:-}" <<'PY'
import sys
data, out, page_only = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3] == "page"
if page_only or (data and data[0] % 3 == 0):
    open(out + ".page", "wb").write(data if page_only else data[1:])
elif data[0] % 3 == 1:
    open(out + ".hvt", "wb").write(data[1:])
else:
    # The harness's ZstdRawFrame.wrap: magic, descriptor 0, window 2^17, raw blocks of <= 128 KiB.
    payload, frame, offset = data[1:], bytearray(b"\x28\xb5\x2f\xfd\x00\x38"), 0
    while True:
        size = min(1 << 17, len(payload) - offset)
        last = 1 if offset + size == len(payload) else 0
        header = size << 3 | last
        frame += bytes([header & 0xFF, header >> 8 & 0xFF, header >> 16]) + payload[offset:offset + size]
        offset += size
        if offset >= len(payload):
            break
    open(out + ".hvt", "wb").write(frame)
print("wrote", out)
PY

#!/usr/bin/env bash
# Builds the fuzzer's seed corpus from the test fixtures (Tests/Fixtures/{good,bad}/*.hvt):
#   1<file>     every fixture exactly as on disk          (mode 1: whole .hvt file)
#   2<stream>   its decompressed stream, as far as zstd gets (mode 2: stream in raw zstd blocks)
#   0<s><page>  every page of every readable fixture      (mode 0: one page; s = page shape)
# Usage: scripts/fuzz-corpus.sh OUTPUT_DIRECTORY
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/fuzz-corpus.sh OUTPUT_DIRECTORY}
mkdir -p "$out"
command -v zstd >/dev/null || { echo "fuzz-corpus: needs the zstd command (apt-get install zstd)" >&2; exit 2; }

for fixture in Tests/Fixtures/good/*.hvt Tests/Fixtures/bad/*.hvt; do
    name=$(basename "$(dirname "$fixture")")-$(basename "$fixture" .hvt)
    { printf '\001'; cat "$fixture"; } > "$out/file-$name"
    # A damaged fixture decompresses only partly; keep what zstd produced.
    { printf '\002'; zstd -dcq "$fixture" 2>/dev/null || true; } > "$out/stream-$name"
done

python3 - "$out" <<'PY'
import struct, sys, pathlib
out = pathlib.Path(sys.argv[1])
for stream_file in sorted(out.glob("stream-*")):
    stream = stream_file.read_bytes()[1:]
    if len(stream) < 16:
        continue
    body = struct.unpack_from("<I", stream, 12)[0]
    offset, index = 16 + body, 0
    if offset + 20 + 32 > len(stream):
        continue
    page_size = struct.unpack_from("<I", stream, 16 + 4 + 28)[0]   # region header field pageSize
    cpus = struct.unpack_from("<H", stream, 16 + 4 + 26)[0]
    log2 = max(0, min(7, page_size.bit_length() - 1 - 8))
    shape = log2 | ((max(1, min(16, cpus)) - 1) << 4)
    while offset + 5 <= len(stream):
        kind, length = struct.unpack_from("<BI", stream, offset)
        payload = stream[offset + 5: offset + 5 + length]
        if kind == 1 and len(payload) > 10:
            (out / f"page-{stream_file.name[7:]}-{index}").write_bytes(bytes([0, shape]) + payload[10:])
            index += 1
        offset += 5 + length
PY
echo "fuzz-corpus: $(ls "$out" | wc -l) seeds in $out"

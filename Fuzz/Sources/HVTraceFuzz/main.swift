// libFuzzer entry point for hvtrace's decoders. The first input byte picks what the rest is:
//   0: one ring page (next byte: log2 page size and CPU count), then the raw page bytes;
//      also decoded as a bare record stream and as a region header;
//   1: a whole .hvt file exactly as on disk (zstd and all);
//   2: the decompressed .hvt stream (preamble, header, chunks), wrapped by this harness in a zstd
//      frame of raw blocks, so mutations reach the chunk and page parsers instead of zstd's checks.
// Modes 1 and 2 run the merged `EventStream`, then the report and flame analyses on the same bytes.
// `scripts/fuzz.sh` builds and runs it; `scripts/fuzz-corpus.sh` makes the seeds from the fixtures.

import HVTrace
import TraceFormat

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's driver (compiler-rt `FuzzerInterface.h`): runs the fuzzing loop with our callback.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// `HVTRACE_FUZZ_TARGET=page`: every input is a page (mode 0 without its mode byte). The page
/// decoder runs ~100× faster than the whole-file path, so this campaign gets most executions.
let pagesOnly = getenv("HVTRACE_FUZZ_TARGET").map { String(cString: $0) == "page" } ?? false

/// One fuzz input. Never throws or traps on any input: that is the property under test.
func fuzzOne(_ bytes: UnsafeRawBufferPointer) {
    if pagesOnly { return fuzzPage(bytes) }
    guard let mode = bytes.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: bytes[1...])
    switch mode % 3 {
    case 0: fuzzPage(rest)
    case 1: fuzzFile(Array(rest))
    default: fuzzFile(ZstdRawFrame.wrap(rest))
    }
}

/// A page through `PageDecoder`, the same bytes as bare records, and as a region header.
func fuzzPage(_ bytes: UnsafeRawBufferPointer) {
    guard let shape = bytes.first else { return }
    let body = UnsafeRawBufferPointer(rebasing: bytes[1...])
    let pageSize = 1 << (8 + Int(shape & 7) + (shape & 8 != 0 ? 1 : 0))  // 256 … 65536
    let cpuCount = 1 + Int(shape >> 4)
    if var decoder = try? PageDecoder(bytes: body, pageSize: pageSize, cpuCount: cpuCount) {
        var last: UInt64 = 0
        while let event = try? decoder.next() { last ^= event.timestamp }
        blackHole(last)
    }
    if let base = body.baseAddress {
        var records = RecordDecoder(base: base, length: body.count)
        while let record = try? records.next() { blackHole(record.delta) }
        if let header = try? RegionHeader.load(from: base, length: body.count) { blackHole(header.regionSize) }
    }
}

/// A whole file: merged stream, then report and flame graph, all rendered.
func fuzzFile(_ file: [UInt8]) {
    // `dump`'s path: the merged stream, every event formatted, the diagnostics block.
    guard let stream = try? EventStream(source: PageSource(bytes: file, name: "fuzz.hvt")) else { return }
    var printed: UInt64 = 0
    try? stream.dump(path: "fuzz.hvt", options: TraceDumpOptions()) { printed &+= UInt64($0.utf8.count) }
    blackHole(printed &+ UInt64(stream.diagnostics.rendered().utf8.count))

    if let source = try? PageSource(bytes: file, name: "fuzz.hvt") {
        let (pairer, diagnostics, clock) = TraceAnalysis.run(source: source) {
            ReportBuilder(clockFrequency: $0.clockFrequency)
        }
        let report = pairer.sink.makeReport(pairing: pairer.diagnostics, firstTimestamp: pairer.firstTimestamp,
                                            lastTimestamp: pairer.lastTimestamp, cpuCount: clock.cpuCount,
                                            source: "fuzz.hvt", extraDiagnostics: diagnostics)
        blackHole(UInt64(report.text().utf8.count))
    }
    if let source = try? PageSource(bytes: file, name: "fuzz.hvt") {
        let (pairer, _, _) = TraceAnalysis.run(source: source) { _ in FlameBuilder() }
        blackHole(UInt64(pairer.sink.graph.tree().utf8.count + pairer.sink.graph.folded().utf8.count))
    }
}

/// Wraps bytes in one zstd frame of raw (stored) blocks (RFC 8878 §3.1.1): no compression, no
/// checksum, so every byte of the fuzz input reaches the .hvt parser unchanged.
enum ZstdRawFrame {
    static let maximumBlock = 1 << 17

    static func wrap(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        // Magic; frame header descriptor 0 (no content size, not single-segment, no checksum, no
        // dictionary); window descriptor: exponent 7 → 2^17-byte window.
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 7 << 3]
        frame.reserveCapacity(payload.count + 16)
        var offset = 0
        repeat {
            let size = min(maximumBlock, payload.count - offset)
            let last = offset + size == payload.count ? 1 : 0
            let blockHeader = UInt32(size) << 3 | UInt32(last)  // block type 0: raw
            frame += [UInt8(blockHeader & 0xFF), UInt8(blockHeader >> 8 & 0xFF), UInt8(blockHeader >> 16)]
            frame += payload[offset..<(offset + size)]
            offset += size
        } while offset < payload.count
        return frame
    }
}

@inline(never)
func blackHole(_ value: UInt64) { if value == 0x5EED_F00D_DEAD_BEEF { print("") } }

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})

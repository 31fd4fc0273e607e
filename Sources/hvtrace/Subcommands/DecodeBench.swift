import ArgumentParser
import Foundation
import HVTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `hvtrace decode-bench FILE`: decode throughput of the per-page API and of the merged stream.
struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode-bench",
        abstract: "Measure decode throughput (events/s) of the per-page APIs and the merged stream."
    )

    @OptionGroup var input: TraceInputOptions

    @Option(help: "Runs per path; the best is reported.")
    var runs = 3

    func validate() throws {
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
    }

    /// Sums timestamps: enough work to keep the decode observable, nothing more.
    struct ChecksumVisitor: RecordVisitor {
        var checksum: UInt64 = 0
        @inline(__always) mutating func visit(_ event: TraceEvent, timestamp: UInt64) { checksum &+= timestamp }
    }

    func run() throws {
        var bestVisitor = Double.infinity, bestPerPage = Double.infinity, bestMerged = Double.infinity
        var bestContainer = Double.infinity
        var events: UInt64 = 0
        for _ in 0..<runs {
            let source: PageSource
            do { source = try PageSource(path: input.file) } catch {
                printError(error.description)
                throw ExitCode(2)
            }
            // The container alone: decompression and chunk framing, no record decoding.
            let reader = try TraceFileReader(path: input.file)
            var payloadBytes = 0
            let containerStart = monotonicSeconds()
            while let chunk = reader.nextChunk() { payloadBytes &+= chunk.payload.count }
            bestContainer = min(bestContainer, monotonicSeconds() - containerStart)
            if payloadBytes == 42 { print("") }

            var checksum: UInt64 = 0
            let start = monotonicSeconds()
            source.forEachEvent { checksum &+= $0.timestamp }
            bestPerPage = min(bestPerPage, monotonicSeconds() - start)
            events = source.diagnostics.eventsDecoded
            if checksum == 42 { print("") }  // keeps the loop observable

            let pages = try PageSource(path: input.file)
            var visitor = ChecksumVisitor()
            let visitorStart = monotonicSeconds()
            while let page = pages.next() { _ = pages.decode(page, into: &visitor) }
            bestVisitor = min(bestVisitor, monotonicSeconds() - visitorStart)
            if visitor.checksum == 42 { print("") }

            let stream = try input.openStream()
            let mergedStart = monotonicSeconds()
            while let event = try stream.next() { checksum &+= event.timestamp }
            bestMerged = min(bestMerged, monotonicSeconds() - mergedStart)
            if checksum == 42 { print("") }
        }
        print(DecompressionThread.isEnabled
              ? "decompression on a thread of its own (wall-clock rates; HVTRACE_SINGLE_THREAD=1 measures one core)"
              : "decompression on the decoding thread (one core)")
        func rate(_ seconds: Double) -> String { String(Int(Double(events) / seconds / 1e6 * 10) / 10) + " M events/s" }
        print("\(events) events; container only (zstd + chunks): \(rate(bestContainer)); per-page visitor: \(rate(bestVisitor)); "
              + "per-page events: \(rate(bestPerPage)); merged stream: \(rate(bestMerged))")
        let decodeSeconds = bestVisitor - bestContainer
        // Only meaningful when both ran on one thread (otherwise they overlap).
        if decodeSeconds > 0 && !DecompressionThread.isEnabled {
            print("record decoding alone (per-page visitor minus container): \(rate(decodeSeconds)), "
                  + "\(String(format: "%.2f", decodeSeconds / Double(max(events, 1)) * 1e9)) ns/event")
        }
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

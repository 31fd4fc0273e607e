import Foundation
import Testing
@testable import HVTrace

/// Synthetic traces decode to exactly their ground truth, through both reading paths.
struct SyntheticTraceTests {
    static func generate(_ directory: TemporaryDirectory, name: String = "s.hvt",
                         configure: (inout SyntheticTraceOptions) -> Void = { _ in }) throws -> (String, SyntheticGroundTruth) {
        var options = SyntheticTraceOptions()
        options.events = 30_000
        options.seed = 7
        options.cpus = 3
        configure(&options)
        let path = directory.path(name)
        return (path, try SyntheticTraceGenerator.generate(to: path, options: options))
    }

    /// A trace of many decompression blocks (about 1.5 MB decompressed, the pipeline's blocks are
    /// 256 KiB): the file reader (decompression thread) and the in-memory reader (calling thread)
    /// deliver the same events in the same order, and both match the ground truth.
    @Test func decompressionThreadDeliversTheSameEventsAsTheCallingThread() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (path, truth) = try Self.generate(directory) { $0.events = 400_000 }
        func events(_ source: PageSource) -> [TimedEvent] {
            var all: [TimedEvent] = []
            source.forEachEvent { all.append($0) }
            return all
        }
        let fromFile = try PageSource(path: path)
        let fromMemory = try PageSource(bytes: readFile(path), name: path)
        let viaThread = events(fromFile), viaCaller = events(fromMemory)
        #expect(UInt64(viaThread.count) == truth.eventsRecorded)
        #expect(viaThread == viaCaller)
        #expect(fromFile.reader.end == .complete && fromMemory.reader.end == .complete)
        #expect(fromFile.diagnostics.rendered() == fromMemory.diagnostics.rendered())

        // A reader dropped after one page stops its thread, which is waiting for a free block.
        for _ in 0..<20 {
            let early = try PageSource(path: path)
            #expect(early.next() != nil)
        }
    }

    @Test(arguments: [1, 2, 4])
    func perPageAndMergedReadersAgreeWithGroundTruth(cpus: Int) throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (path, truth) = try Self.generate(directory) { $0.cpus = cpus }

        // Fast path: per page, per-CPU order.
        let source = try PageSource(path: path)
        var pairing = ExitPairing()
        var count: UInt64 = 0
        source.forEachEvent { event in
            pairing.add(event)
            count += 1
        }
        #expect(count == truth.eventsRecorded)
        #expect(source.diagnostics.reported.isEmpty, "\(source.diagnostics.rendered())")
        #expect(source.reader.end == .complete)
        for (reason, expected) in truth.reasons {
            // Pages interleave CPUs in drain order, so compare as multisets.
            #expect(pairing.latencies[reason]?.sorted() == expected.latencies.sorted(), "\(reason)")
        }
        #expect(Set(pairing.latencies.keys) == Set(truth.reasons.keys))

        // Merged: same multiset of events, globally non-decreasing timestamps.
        let merged = try #require(decodeAll(path))
        #expect(UInt64(merged.events.count) == truth.eventsRecorded)
        #expect(zip(merged.events, merged.events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        #expect(merged.events.first?.timestamp == truth.firstTimestamp)
        #expect(merged.events.last?.timestamp == truth.lastTimestamp)
        var mergedPairing = ExitPairing()
        merged.events.forEach { mergedPairing.add($0) }
        #expect(mergedPairing.latencies.mapValues { $0.sorted() } == pairing.latencies.mapValues { $0.sorted() })
    }

    @Test func groundTruthFollowsTheConfiguredDistributions() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (_, truth) = try Self.generate(directory) { $0.events = 100_000 }
        // sysreg is constant: 900 ns at 62.5 MHz = 56.25 → 56 ticks, every time.
        let sysreg = try #require(truth.reasons["SYS64"])
        #expect(Set(sysreg.latencies) == [56])
        // HVC: log-normal with median 1500 ns ≈ 94 ticks.
        let hvc = try #require(truth.reasons["HVC64"]).latencies.sorted()
        #expect(abs(Double(hvc[hvc.count / 2]) - 93.75) < 5)
        // The mix: irq 30 % of exits, within 2 points.
        let exits = Double(truth.reasons.values.reduce(0) { $0 + $1.count })
        #expect(abs(Double(truth.reasons["IRQ"]!.count) / exits - 0.30) < 0.02)
        // Every stack's self time adds up to the total exit time.
        let total = truth.reasons.values.reduce(0) { $0 + $1.totalTicks }
        #expect(truth.stackSelfTicks.values.reduce(0, +) == total)
        #expect(truth.stackSelfTicks["DABT_LOW;dispatch;stage2_fault;mmio;vgic_dist"] != nil)
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        _ = try Self.generate(directory, name: "a.hvt")
        _ = try Self.generate(directory, name: "b.hvt")
        _ = try Self.generate(directory, name: "c.hvt") { $0.seed = 8 }
        #expect(readFile(directory.path("a.hvt")) == readFile(directory.path("b.hvt")))
        #expect(readFile(directory.path("a.hvt")) != readFile(directory.path("c.hvt")))
    }

    /// A small ring drained rarely overflows: the lost events are counted exactly, and exits
    /// that lost their return are reported unmatched, not dropped.
    @Test func forcedLossIsCountedExactly() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (path, truth) = try Self.generate(directory) {
            $0.pagesPerCPU = 2
            $0.pageSize = 512
            $0.drainIntervalNanoseconds = 2_000_000
        }
        #expect(truth.eventsLost > 1000)
        let source = try PageSource(path: path)
        var pairing = ExitPairing()
        var decoded: UInt64 = 0
        source.forEachEvent { event in
            pairing.add(event)
            if case .lostEvents = event.event {} else { decoded += 1 }
        }
        let diagnostics = source.diagnostics
        #expect(decoded == truth.eventsRecorded)
        #expect(diagnostics[.lostEvents] + diagnostics[.lostEventsAtEnd] == truth.eventsLost)
        #expect(diagnostics[.lostPages] == 0)
        #expect(!diagnostics.hasErrors)
        for (reason, expected) in truth.reasons {
            #expect(pairing.latencies[reason, default: []].sorted() == expected.latencies.sorted(), "\(reason)")
            #expect(pairing.unmatched[reason, default: 0] == expected.unmatched, "\(reason)")
        }
    }

    @Test func corruptedPagesAreSkippedCountedAndNeverCrash() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let (path, truth) = try Self.generate(directory) { $0.corruptEveryNthPage = 3 }
        #expect(truth.corruptedPages > 5)
        let merged = try #require(decodeAll(path))
        let diagnostics = merged.diagnostics
        let recordProblems = diagnostics[.recordVarintOverrun] + diagnostics[.recordUnknownEvent]
            + diagnostics[.recordFieldOutOfRange] + diagnostics[.recordTruncated]
        // A flipped byte need not be detectable (e.g. inside a value), but most are.
        #expect(recordProblems > 0 && recordProblems <= UInt64(truth.corruptedPages))
        #expect(merged.events.count <= Int(truth.eventsRecorded) + 10)
        #expect(diagnostics.pagesRead == truth.pagesWritten)
    }
}

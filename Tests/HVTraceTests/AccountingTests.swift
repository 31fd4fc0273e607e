import Foundation
import Testing
@testable import HVTrace
import TraceFormat

/// Exact accounting on damaged traces (issue 17): for any file, events decoded + events counted
/// lost or damaged = events the producer wrote (its ring-state `producedEvents`), and each silent
/// loss the corruption survey found is now counted by name. Every case is built from the
/// survey's damage, made inside the zstd stream and recompressed.
struct AccountingTests {
    /// The base trace of the bad fixtures (2 CPUs, 256-byte pages, about 300 events, no loss).
    static func base() throws -> HVTStream { try FixtureTests.base() }

    /// What the reader and the report say about `bytes`.
    struct Verdict {
        var diagnostics: DecodeDiagnostics
        var events: [TimedEvent]
        /// The producers' own count of their events, summed over CPUs (ring-state chunks).
        var produced: UInt64
        /// The report's diagnostics through the per-CPU path (`TraceAnalysis.report`).
        var report: ExitReport

        func value(_ kind: DiagnosticKind) -> UInt64 { diagnostics[kind] }

        /// Decoded events of committed pages plus every event counted lost or damaged, less those
        /// counted beyond the producer's count: must equal `produced`.
        var accounted: Int64 {
            Int64(events.count) + Int64(value(.damagedEvents)) + Int64(value(.unaccountedEvents)) + Int64(value(.corruptFrameEvents))
                - Int64(value(.eventsBeyondProduced))
        }
    }

    static func verdict(_ bytes: [UInt8]) throws -> Verdict {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("damaged.hvt")
        writeFile(path, bytes)
        let stream = try EventStream(path: path)
        var events: [TimedEvent] = []
        while let event = try stream.next() { events.append(event) }
        let produced = stream.source.reader.ringStates.map(\.producedEvents).reduce(0, +)
        return Verdict(diagnostics: stream.diagnostics, events: events, produced: produced,
                       report: try TraceAnalysis.report(path: path))
    }

    /// Offsets (from the record area's start) where each record of a page chunk payload begins,
    /// plus the end of the last one.
    static func recordBoundaries(_ payload: [UInt8]) -> [Int] {
        let first = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size
        let used = FixtureTests.u16(payload, FixtureTests.usedBytesField)
        return payload.withUnsafeBytes { raw in
            var decoder = RecordDecoder(base: raw.baseAddress! + first, length: used)
            var offsets = [0]
            while (try? decoder.next()) != nil { offsets.append(decoder.offset) }
            return offsets
        }
    }

    static let eventCountField = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.eventCount

    @Test func undamagedTraceAccountsForEveryProducedEvent() throws {
        let verdict = try Self.verdict(try Self.base().compressed())
        #expect(verdict.diagnostics.reported.isEmpty)
        #expect(verdict.produced > 0 && verdict.accounted == Int64(verdict.produced))
    }

    /// A page cut at a record boundary (used bytes and chunk shortened together): every record
    /// left decodes, so only the header's eventCount shows what went missing.
    @Test func pageCutAtARecordBoundaryCountsTheMissingEvents() throws {
        var stream = try Self.base()
        let chunk = stream.pageChunkIndices[4]
        var payload = stream.chunks[chunk].payload
        let boundaries = Self.recordBoundaries(payload)
        let declared = FixtureTests.u16(payload, Self.eventCountField)
        #expect(boundaries.count - 1 == declared)
        let keep = boundaries.count / 2
        FixtureTests.setU16(&payload, FixtureTests.usedBytesField, UInt16(boundaries[keep]))
        payload.removeSubrange((TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size + boundaries[keep])...)
        stream.chunks[chunk].payload = payload

        let verdict = try Self.verdict(stream.compressed())
        #expect(verdict.value(.pageEventCountMismatch) == 1)
        #expect(verdict.value(.damagedEvents) == UInt64(declared - keep))
        #expect(verdict.accounted == Int64(verdict.produced))
        #expect(verdict.report.lossBanner?.contains("\(declared - keep) events DAMAGED") == true)
        #expect(verdict.report.text().contains("damaged events: \(declared - keep)"))
    }

    /// An id byte 0 (end of records) inside the used bytes: the records after it were silently
    /// ignored before.
    @Test func endOfRecordsByteInsideUsedBytesIsCounted() throws {
        var stream = try Self.base()
        let chunk = stream.pageChunkIndices[2]
        let boundaries = Self.recordBoundaries(stream.chunks[chunk].payload)
        let declared = FixtureTests.u16(stream.chunks[chunk].payload, Self.eventCountField)
        stream.chunks[chunk].payload[TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size + boundaries[3]] = 0

        let verdict = try Self.verdict(stream.compressed())
        #expect(verdict.value(.recordsEndEarly) == 1)
        #expect(verdict.value(.damagedEvents) == UInt64(declared - 3))
        #expect(verdict.accounted == Int64(verdict.produced))
        #expect(verdict.report.problems.contains { $0.name == "records_end_early" })
    }

    /// A page whose records were replaced by another page's (valid records, another count).
    @Test func pageRewrittenWithOtherValidRecordsIsCounted() throws {
        var stream = try Self.base()
        let pages = stream.pageChunkIndices
        // Two pages of CPU 0 with different record counts.
        let cpu0 = pages.filter { FixtureTests.u16(stream.chunks[$0].payload, 0) == 0 }
        let target = cpu0[1]
        let donor = try #require(cpu0.dropFirst(2).first {
            FixtureTests.u16(stream.chunks[$0].payload, Self.eventCountField) != FixtureTests.u16(stream.chunks[target].payload, Self.eventCountField)
        })
        let recordStart = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size
        var payload = Array(stream.chunks[target].payload[0..<recordStart]) + stream.chunks[donor].payload[recordStart...]
        FixtureTests.setU16(&payload, FixtureTests.usedBytesField, UInt16(payload.count - recordStart))
        stream.chunks[target].payload = payload

        let verdict = try Self.verdict(stream.compressed())
        #expect(verdict.value(.pageEventCountMismatch) == 1)
        #expect(verdict.value(.eventsBeyondProduced) + verdict.value(.damagedEvents) > 0)
        #expect(verdict.accounted == Int64(verdict.produced))
        #expect(verdict.report.lossBanner?.contains("decode ERRORS") == true)
    }

    /// An end chunk in the middle of the file used to drop every chunk after it with "ok".
    @Test func endChunkInMidFileIsCountedAndTheRestIsRead() throws {
        var stream = try Self.base()
        let clean = try Self.verdict(stream.compressed())
        let end = try #require(stream.chunks.last { $0.type == ChunkType.end.rawValue })
        stream.chunks.insert(end, at: stream.pageChunkIndices[3])

        let verdict = try Self.verdict(stream.compressed())
        #expect(verdict.value(.chunksAfterEnd) == 1)
        #expect(verdict.events == clean.events)
        #expect(verdict.diagnostics.pagesRead == clean.diagnostics.pagesRead)
        #expect(verdict.report.lossBanner?.contains("decode ERRORS") == true)
    }

    /// A replayed page (an older sequence inserted again): skipped and counted, so no exit in it is
    /// paired twice with a clamped timestamp (latency 0 dragged every reason's minimum to 0).
    @Test func replayedPageIsExcludedFromStatisticsAndCounted() throws {
        var stream = try Self.base()
        let clean = try Self.verdict(stream.compressed())
        let pages = stream.pageChunkIndices
        let replayed = stream.chunks[pages[1]]
        stream.chunks.insert(replayed, at: pages[6])

        let verdict = try Self.verdict(stream.compressed())
        #expect(verdict.value(.pageSequenceRegression) == 1)
        #expect(verdict.value(.replayedPageEvents) == UInt64(FixtureTests.u16(replayed.payload, Self.eventCountField)))
        #expect(verdict.events == clean.events)
        #expect(verdict.report.reasons.map(\.count) == clean.report.reasons.map(\.count))
        #expect(verdict.report.reasons.map(\.ticks.min) == clean.report.reasons.map(\.ticks.min))
        #expect(verdict.report.reasons.allSatisfy { $0.ticks.min > 0 })
        #expect(verdict.accounted == Int64(verdict.produced))
    }

    /// A watermark that lies (claims a time far ahead): dump's merge emits events out of time
    /// order, and now says so.
    @Test func lyingWatermarkMakesTheMergeReportTimeGoingBackwards() throws {
        var stream = try Self.base()
        stream.chunks.insert(.init(type: ChunkType.watermark.rawValue, payload: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], offset: 0), at: 0)
        let verdict = try Self.verdict(stream.compressed())
        let outOfOrder = zip(verdict.events, verdict.events.dropFirst()).filter { $0.timestamp > $1.timestamp }.count
        #expect(outOfOrder > 0)
        #expect(verdict.value(.mergeOutOfOrder) > 0)
        #expect(verdict.diagnostics.hasErrors)
    }

    /// The report's headline counts every lost event, those after the last page included.
    @Test func headlineLostEventsIncludesLostEventsAtEnd() throws {
        let path = FixtureTests.root.appendingPathComponent("good/forced-loss.hvt").path
        let report = try TraceAnalysis.report(path: path)
        let atEnd = report.diagnostics.first { $0.name == "lost_events_at_end" }?.value ?? 0
        let inRecords = report.diagnostics.first { $0.name == "lost_events" }?.value ?? 0
        #expect(atEnd > 0)
        #expect(report.eventsLost == inRecords + atEnd)
        #expect(report.text().contains("lost events: \(inRecords + atEnd)\n"))
        #expect(report.markdown().contains("| lost events | \(inRecords + atEnd) |"))
    }

    /// Structured damage of every kind to every page: decoded + lost + damaged = produced, always.
    @Test(arguments: ["drop", "cut", "zero-id", "flip-id", "count-low", "count-high", "duplicate", "length"])
    func everyDamageKeepsTheAccountingExact(damage: String) throws {
        let base = try Self.base()
        for page in base.pageChunkIndices.indices {
            var stream = base
            let chunk = stream.pageChunkIndices[page]
            var payload = stream.chunks[chunk].payload
            let recordStart = TraceFileLayout.pageChunkPrefix + PageHeaderLayout.size
            let boundaries = Self.recordBoundaries(payload)
            let middle = boundaries[boundaries.count / 2]
            switch damage {
            case "drop": stream.chunks.remove(at: chunk)
            case "cut":
                FixtureTests.setU16(&payload, FixtureTests.usedBytesField, UInt16(middle))
                payload.removeSubrange((recordStart + middle)...)
            case "zero-id": payload[recordStart + middle] = 0
            case "flip-id": payload[recordStart + middle] = 48
            case "count-low": FixtureTests.setU16(&payload, Self.eventCountField, UInt16(FixtureTests.u16(payload, Self.eventCountField) - 1))
            case "count-high": FixtureTests.setU16(&payload, Self.eventCountField, UInt16(FixtureTests.u16(payload, Self.eventCountField) + 7))
            case "duplicate": stream.chunks.insert(stream.chunks[chunk], at: chunk + 1)
            default: FixtureTests.setU16(&payload, FixtureTests.usedBytesField, UInt16(FixtureTests.u16(payload, FixtureTests.usedBytesField) - 1))
            }
            if damage != "drop" && damage != "duplicate" { stream.chunks[chunk].payload = payload }
            let verdict = try Self.verdict(stream.compressed())
            #expect(verdict.accounted == Int64(verdict.produced), "\(damage) of page \(page): \(verdict.diagnostics.rendered())")
            #expect(!verdict.report.problems.isEmpty, "\(damage) of page \(page) went unnoticed")
        }
    }
}

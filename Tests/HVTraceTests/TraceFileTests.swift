import Foundation
import Testing
@testable import HVTrace

/// The .hvt container: header, pages, ring states, the temporary-file discipline.
struct TraceFileTests {
    static let region = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: .stopWhenFull,
                                     cpuCount: 2, pageSize: 256, pagesPerCPU: 8, counterFrequency: 62_500_000,
                                     buildIDHigh: 0x1122_3344_5566_7788, buildIDLow: .max)

    @Test func headerAndMetadataRoundTrip() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let header = TraceFileHeader(region: Self.region, guestName: "linux", buildID: "abc123",
                                     hostTimeNanoseconds: 1_700_000_000_123_456_789,
                                     qemuCommandLine: "qemu-system-aarch64 -M virt,virtualization=on -append \"guest=linux\"",
                                     extra: [MetadataEntry(key: "recorder", value: "hvtrace 0.1"), MetadataEntry(key: "empty", value: ""),
                                             MetadataEntry(key: "ünïcode", value: "✓")])
        let writer = try TraceFileWriter(path: directory.path("h.hvt"), header: header)
        try writer.close()
        let reader = try TraceFileReader(path: directory.path("h.hvt"))
        #expect(reader.header == header)
        #expect(reader.nextChunk()?.type == ChunkType.end.rawValue)
        #expect(reader.end == .complete)
        #expect(reader.nextChunk() == nil)
    }

    @Test func nothingAppearsUnderTheFinalNameUntilClose() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("t.hvt")
        var writer: TraceFileWriter? = try TraceFileWriter(path: path, header: TraceFileHeader(region: Self.region))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(FileManager.default.fileExists(atPath: writer!.temporaryPath))
        let temporary = writer!.temporaryPath
        writer = nil  // dropped without close(): an error path
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: temporary))
        let closing = try TraceFileWriter(path: path, header: TraceFileHeader(region: Self.region))
        try closing.close()
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: closing.temporaryPath))
    }

    @Test func writingIntoAMissingDirectoryIsATypedError() {
        #expect(throws: TraceFileError.self) {
            try TraceFileWriter(path: "/nonexistent-dir/x.hvt", header: TraceFileHeader(region: Self.region))
        }
    }

    /// Every event kind with extreme values, through a real ring (pages of 256 bytes, so records
    /// cross many page boundaries, including a 2^63-tick jump), the file and the merged reader.
    @Test func everyEventKindSurvivesRingFileAndReader() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layout = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: .stopWhenFull,
                                  cpuCount: 2, pageSize: 256, pagesPerCPU: 512, counterFrequency: 62_500_000)
        let region = UnsafeMutableRawPointer.allocate(byteCount: Int(layout.regionSize), alignment: 4096)
        defer { region.deallocate() }
        initializeTraceRegion(layout, at: region)
        var producers = [RingProducer<TestPlatform>(region: region, layout: layout, cpu: 0),
                         RingProducer<TestPlatform>(region: region, layout: layout, cpu: 1)]
        var expected: [TimedEvent] = []
        var clock: UInt64 = 0
        for round in 0..<6 {
            for (index, event) in extremeEvents.enumerated() {
                let cpu = index % 2
                // Deltas: 0, 1, large, and one jump of 2^63 ticks; the last round ends at UInt64.max.
                clock += [0, 1, 1 << 20, 0, 127, 128][index % 6]
                if round == 3 && index == 0 { clock += 1 << 62 }
                let stamp = round == 5 && index == extremeEvents.count - 1 ? UInt64.max : clock
                producers[cpu].record(event, timestamp: stamp)
                expected.append(TimedEvent(timestamp: stamp, cpu: UInt16(cpu), event: event))
            }
        }
        producers[0].flush()
        producers[1].flush()
        let writer = try TraceFileWriter(path: directory.path("e.hvt"), header: TraceFileHeader(region: layout))
        let drainer = RegionDrainer(region: region, layout: layout)
        try drainer.drain(into: writer)
        for state in drainer.ringStates() { try writer.writeRingState(state) }
        try writer.close()

        let decoded = try #require(decodeAll(directory.path("e.hvt")))
        let byTime = expected.enumerated().sorted { a, b in
            (a.element.timestamp, a.element.cpu, a.offset) < (b.element.timestamp, b.element.cpu, b.offset)
        }.map(\.element)
        #expect(decoded.events == byTime)
        // Six lost_events records of 2^64 - 1 each: the counter stops at 2^64 - 1 and says so.
        #expect(decoded.diagnostics.reported == [.lostEvents, .counterSaturated], "\(decoded.diagnostics.rendered())")
        #expect(decoded.diagnostics[.lostEvents] == .max)
        #expect(decoded.diagnostics.pagesRead > 5)
    }

    @Test func unknownChunksAndExtensionRecordsAreSkippedAndCounted() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        let layout = Self.region
        let writer = try TraceFileWriter(path: directory.path("x.hvt"), header: TraceFileHeader(region: layout))
        // A page with: exit_entry, an extension record (id 70, 3 payload bytes), exit_return.
        var page = [UInt8](repeating: 0, count: 256)
        var records: [UInt8] = [1, 5, 0x16, 0, 0, 70, 2, 3, 0xAA, 0xBB, 0xCC, 2, 7]
        records += [UInt8](repeating: 0, count: 0)
        page.replaceSubrange(32..<(32 + records.count), with: records)
        page.withUnsafeMutableBytes { raw in
            PageHeader(sequence: 0, timestamp: 100, counter: 0, usedBytes: UInt16(records.count), cpu: 1, flags: 0, eventCount: 3)
                .store(to: raw.baseAddress!)
        }
        try writer.writeRawChunk(type: 0x42, payload: [1, 2, 3])
        var failure: TraceFileError?
        page.withUnsafeBytes { raw in
            do throws(TraceFileError) { try writer.writePage(raw, cpu: 1, sequence: 0) } catch { failure = error }
        }
        #expect(failure == nil)
        try writer.close()
        let decoded = try #require(decodeAll(directory.path("x.hvt")))
        #expect(decoded.events == [TimedEvent(timestamp: 105, cpu: 1, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0)),
                                   TimedEvent(timestamp: 114, cpu: 1, event: .exitReturn)])
        #expect(decoded.diagnostics[.skippedExtensionRecords] == 1)
        #expect(decoded.diagnostics[.skippedUnknownChunks] == 1)
        #expect(!decoded.diagnostics.hasErrors)
    }
}

let extremeEvents: [TraceEvent] = [
    .exitEntry(ec: 0x16, iss: 0, vcpu: 0),
    .exitEntry(ec: 0x24, iss: 0x1FF_FFFF, vcpu: .max),
    .exitEntry(ec: 0xFF, iss: .max, vcpu: 1),
    .exitReturn,
    .hypercall(conduit: .hvc, immediate: 0, functionID: 0x8400_0000),
    .hypercall(conduit: .smc, immediate: .max, functionID: .max),
    .hypercall(conduit: .hvc, immediate: 0, functionID: 0),
    .hypercallResult(0), .hypercallResult(-1), .hypercallResult(.min), .hypercallResult(.max),
    .stage2Fault(ipa: 0, access: AccessInfo(rawValue: 0), outcome: .emulatedMMIO),
    .stage2Fault(ipa: .max, access: AccessInfo(rawValue: 0xFF), outcome: .ignored),
    .stage2Fault(ipa: 0x4000_0000, access: AccessInfo(sizeLog2: 3, isWrite: false), outcome: .mappedOnDemand),
    .stage2Fault(ipa: 1, access: AccessInfo(sizeLog2: 1, isWrite: true), outcome: .injectedAbort),
    .mmioAccess(device: 0, offset: 0, access: AccessInfo(rawValue: 0), value: 0),
    .mmioAccess(device: .max, offset: .max, access: AccessInfo(rawValue: 0xFF), value: .max),
    .physicalIRQ(intid: 0), .physicalIRQ(intid: .max),
    .virtualIRQ(intid: 0, vcpu: 0), .virtualIRQ(intid: .max, vcpu: .max),
    .waitForInterrupt(.wfi), .waitForInterrupt(.wfe),
    .sysregTrap(encoding: 0, isWrite: false), .sysregTrap(encoding: .max, isWrite: true),
    .spanEnter(phase: 0), .spanLeave(phase: .max), .spanEnter(phase: 1), .spanLeave(phase: 1),
    .guestMarker(id: 0, value: 0), .guestMarker(id: .max, value: .max),
    .lostEvents(count: 0), .lostEvents(count: .max),
]

import Testing
@testable import TraceFormat

/// Host-side stand-in for the hypervisor's barriers and counter.
enum HostPlatform: TracePlatform {
    nonisolated(unsafe) static var counter: UInt64 = 0
    static func storeBarrier() {}
    static func loadBarrier() {}
    static func counterNow() -> UInt64 { counter }
}

let everyEventKind: [TraceEvent] = [
    .exitEntry(ec: 0x16, iss: 0, vcpu: 0),
    .exitEntry(ec: 0x24, iss: 0x1FF_FFFF, vcpu: .max),
    .exitReturn,
    .hypercall(conduit: .hvc, immediate: 0, functionID: 0x8400_0000),
    .hypercall(conduit: .smc, immediate: .max, functionID: .max),
    .hypercall(conduit: .hvc, immediate: 7, functionID: 0x0001_0000),
    .hypercallResult(0), .hypercallResult(-1), .hypercallResult(.min), .hypercallResult(.max),
    .stage2Fault(ipa: 0x0900_0000, access: AccessInfo(sizeLog2: 2, isWrite: true), outcome: .emulatedMMIO),
    .stage2Fault(ipa: .max, access: AccessInfo(rawValue: 0x1F), outcome: .ignored),
    .mmioAccess(device: 2, offset: 0, access: AccessInfo(sizeLog2: 0, isWrite: true), value: 0x41),
    .mmioAccess(device: .max, offset: .max, access: AccessInfo(rawValue: 0xFF), value: .max),
    .physicalIRQ(intid: 27), .physicalIRQ(intid: .max),
    .virtualIRQ(intid: 30, vcpu: 1), .virtualIRQ(intid: .max, vcpu: .max),
    .waitForInterrupt(.wfi), .waitForInterrupt(.wfe),
    .sysregTrap(encoding: SysregEncoding.make(op0: 3, op1: 0, crn: 1, crm: 0, op2: 0), isWrite: true),
    .sysregTrap(encoding: .max, isWrite: false),
    .spanEnter(phase: 1), .spanLeave(phase: 1), .spanEnter(phase: 0), .spanLeave(phase: .max),
    .guestMarker(id: 0, value: 0), .guestMarker(id: .max, value: .max),
    .lostEvents(count: 0), .lostEvents(count: .max),
    .guestPC(0), .guestPC(0x4008_1130), .guestPC(.max),
]

@Test(arguments: everyEventKind, [UInt64(0), 1, 127, 128, 1 << 32, .max])
func everyEventRoundTrips(event: TraceEvent, delta: UInt64) throws {
    var buffer = [UInt8](repeating: 0xEE, count: maxRecordLength + 8)
    let end = buffer.withUnsafeMutableBytes { RecordEncoder.encode(event, delta: delta, to: $0.baseAddress!, at: 0) }
    #expect(end <= maxRecordLength)
    try buffer.withUnsafeBytes { raw in
        var decoder = RecordDecoder(base: raw.baseAddress!, length: end)
        let record = try decoder.next()
        #expect(record == DecodedRecord(event: event, delta: delta, offset: 0))
        #expect(try decoder.next() == nil)
    }
}

@Test(arguments: [UInt64(0), 1, 0x7F, 0x80, 0x3FFF, 0x4000, UInt64(UInt32.max), .max])
func varintRoundTrips(value: UInt64) {
    var buffer = [UInt8](repeating: 0, count: maxVarintLength)
    let end = buffer.withUnsafeMutableBytes { Varint.store(value, to: $0.baseAddress!, at: 0) }
    #expect(end == Varint.encodedLength(value))
    buffer.withUnsafeBytes { raw in
        var offset = 0
        #expect(Varint.load(from: raw.baseAddress!, at: &offset, end: end) == value)
        #expect(offset == end)
    }
}

/// Every length from one to ten bytes, decoded with the buffer ending right after the varint (the
/// careful per-byte path) and with spare bytes after it (the unrolled two-to-four-byte path).
@Test(arguments: [UInt64(0x7F), 0x80, 0x3FFF, 0x4000, 0x1F_FFFF, 0x20_0000, 0xFFF_FFFF, 0x1000_0000,
                  UInt64(1) << 35, UInt64(1) << 56, .max], [0, 6])
func varintDecodesWithAndWithoutSpareBytes(value: UInt64, spare: Int) {
    var buffer = [UInt8](repeating: 0xFF, count: maxVarintLength + spare)
    let end = buffer.withUnsafeMutableBytes { Varint.store(value, to: $0.baseAddress!, at: 0) }
    buffer.withUnsafeBytes { raw in
        var offset = 0
        #expect(Varint.load(from: raw.baseAddress!, at: &offset, end: end + spare) == value)
        #expect(offset == end)
        // One byte short of the varint: an overrun, never a wrong value.
        var cut = 0
        if end > 1 { #expect(Varint.load(from: raw.baseAddress!, at: &cut, end: end - 1) == nil) }
    }
}

@Test func overlongVarintIsRejected() {
    let bytes: [UInt8] = Array(repeating: 0xFF, count: 10) + [0x01]
    bytes.withUnsafeBytes { raw in
        var offset = 0
        #expect(Varint.load(from: raw.baseAddress!, at: &offset, end: bytes.count) == nil)
    }
}

@Test(arguments: [UInt32(0), 0x8400_0000, 0xC400_0003, 0xC600_0010, 0x0001_0000, .max])
func functionIDPackingIsABijection(functionID: UInt32) {
    #expect(FunctionIDPacking.unpack(FunctionIDPacking.pack(functionID)) == functionID)
}

@Test func smcccFunctionIDsPackShort() {
    #expect(Varint.encodedLength(FunctionIDPacking.pack(0x8400_0000)) == 2)
    #expect(Varint.encodedLength(FunctionIDPacking.pack(0xC400_0003)) == 2)
}

@Test func producerPagesDecodeToTheSameEventsAcrossPageBoundaries() throws {
    let header = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: .stopWhenFull,
                              cpuCount: 1, pageSize: 256, pagesPerCPU: 64, counterFrequency: 62_500_000)
    var region = [UInt8](repeating: 0, count: Int(header.regionSize))
    var expected: [TimedEvent] = []
    try region.withUnsafeMutableBytes { raw in
        let base = raw.baseAddress!
        initializeTraceRegion(header, at: base)
        var producer = RingProducer<HostPlatform>(region: base, layout: header, cpu: 0)
        var clock: UInt64 = 5
        for index in 0..<200 {
            let event = everyEventKind[index % everyEventKind.count]
            clock &+= index == 100 ? (1 << 40) : UInt64(index * 3)
            producer.record(event, timestamp: clock)
            expected.append(TimedEvent(timestamp: clock, cpu: 0, event: event))
        }
        producer.flush()
        let loaded = try RegionHeader.load(from: base, length: raw.count)
        #expect(loaded == header)
        let ring = base + RegionHeader.ringStateOffset(cpu: 0)
        let published = ring.load(fromByteOffset: RingStateLayout.producerSequence, as: UInt64.self)
        #expect(published > 1)
        #expect(ring.load(fromByteOffset: RingStateLayout.producedEvents, as: UInt64.self) == 200)
        var decoded: [TimedEvent] = []
        for sequence in 0..<published {
            let offset = header.pageOffset(cpu: 0, sequence: sequence)
            let page = UnsafeRawBufferPointer(start: base + offset, count: Int(header.pageSize))
            var decoder = try PageDecoder(bytes: page, pageSize: Int(header.pageSize), cpuCount: 1)
            #expect(decoder.header.sequence == sequence)
            while let event = try decoder.next() { decoded.append(event) }
        }
        #expect(decoded == expected)
    }
}

@Test func stopWhenFullCountsEveryDroppedEventExactly() throws {
    let header = RegionHeader(clockFrequency: 1_000, clockSource: .genericCounter, mode: .stopWhenFull,
                              cpuCount: 1, pageSize: 256, pagesPerCPU: 4, counterFrequency: 1_000)
    var region = [UInt8](repeating: 0, count: Int(header.regionSize))
    try region.withUnsafeMutableBytes { raw in
        let base = raw.baseAddress!
        initializeTraceRegion(header, at: base)
        var producer = RingProducer<HostPlatform>(region: base, layout: header, cpu: 0)
        let ring = base + RegionHeader.ringStateOffset(cpu: 0)
        var decodedEvents: UInt64 = 0
        var reportedLost: UInt64 = 0
        var consumed: UInt64 = 0
        /// Copies every published page like the host consumer does, then frees them.
        func drain() throws {
            let published = ring.load(fromByteOffset: RingStateLayout.producerSequence, as: UInt64.self)
            while consumed < published {
                let page = UnsafeRawBufferPointer(start: base + header.pageOffset(cpu: 0, sequence: consumed), count: 256)
                var decoder = try PageDecoder(bytes: page, pageSize: 256, cpuCount: 1)
                #expect(decoder.header.sequence == consumed)
                while let timed = try decoder.next() {
                    if case let .lostEvents(count) = timed.event { reportedLost += count } else { decodedEvents += 1 }
                }
                consumed += 1
            }
            ring.storeBytes(of: consumed, toByteOffset: RingStateLayout.consumerSequence, as: UInt64.self)
        }
        for index in 0..<1000 { producer.record(.exitReturn, timestamp: UInt64(index)) }
        try drain()
        producer.record(.exitReturn, timestamp: 2000)
        producer.flush()
        try drain()
        #expect(decodedEvents + reportedLost == 1001)
        #expect(reportedLost == producer.lostEvents)
        #expect(ring.load(fromByteOffset: RingStateLayout.producedEvents, as: UInt64.self) == 1001)
        #expect(ring.load(fromByteOffset: RingStateLayout.lostEvents, as: UInt64.self) == reportedLost)
    }
}

/// The hypervisor's exit-entry path (vCPU varint encoded once per vCPU) must write exactly the
/// bytes of the general encoder, including the vCPU ids that need two and three varint bytes.
@Test(arguments: [UInt16(0), 1, 0x7F, 0x80, 0x100, 0x3FFF, 0x4000, .max], [UInt64(0), 0x80])
func preencodedExitEntryMatchesTheGeneralEncoder(vcpu: UInt16, delta: UInt64) {
    let preencoded = PreencodedVarint(vcpu)
    #expect(preencoded.length == Varint.encodedLength(UInt64(vcpu)))
    var general = [UInt8](repeating: 0, count: maxRecordLength)
    var fast = [UInt8](repeating: 0, count: maxRecordLength)
    let generalEnd = general.withUnsafeMutableBytes {
        RecordEncoder.encode(.exitEntry(ec: 0x16, iss: 0x1234, vcpu: vcpu), delta: delta, to: $0.baseAddress!, at: 0)
    }
    let fastEnd = fast.withUnsafeMutableBytes {
        RecordEncoder.encodeExitEntry(ec: 0x16, iss: 0x1234, vcpu: preencoded, delta: delta, to: $0.baseAddress!, at: 0)
    }
    #expect(fastEnd == generalEnd)
    #expect(fast == general)  // the bytes past the record stay zero too
}

/// Events recorded together (one page check) are all written or all counted lost, and decode
/// like the same events recorded one by one, the later ones with the same timestamp.
@Test func eventsRecordedTogetherDecodeInOrderAndDropTogether() throws {
    let header = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: .stopWhenFull,
                              cpuCount: 1, pageSize: 256, pagesPerCPU: 2, counterFrequency: 62_500_000)
    var region = [UInt8](repeating: 0, count: Int(header.regionSize))
    try region.withUnsafeMutableBytes { raw in
        let base = raw.baseAddress!
        initializeTraceRegion(header, at: base)
        var producer = RingProducer<HostPlatform>(region: base, layout: header, cpu: 0)
        var expected: [TimedEvent] = []
        let call = TraceEvent.hypercall(conduit: .hvc, immediate: 0, functionID: 0xC600_0000)
        for exit in 0..<60 {
            let entryTime = UInt64(exit * 100)
            producer.recordExitEntry(ec: 0x16, iss: 0, vcpu: PreencodedVarint(0x100), timestamp: entryTime)
            producer.record(call, .hypercallResult(0), .exitReturn, timestamp: entryTime + 7)
            expected.append(TimedEvent(timestamp: entryTime, cpu: 0, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0x100)))
            expected += [call, .hypercallResult(0), .exitReturn].map { TimedEvent(timestamp: entryTime + 7, cpu: 0, event: $0) }
        }
        producer.flush()
        var decoded: [TimedEvent] = []
        for sequence in 0..<producer.sequence {
            let page = UnsafeRawBufferPointer(start: base + header.pageOffset(cpu: 0, sequence: sequence),
                                              count: Int(header.pageSize))
            var decoder = try PageDecoder(bytes: page, pageSize: Int(header.pageSize), cpuCount: 1)
            while let event = try decoder.next() { decoded.append(event) }
        }
        // Two 256-byte pages hold fewer than 60 exits; stop-when-full keeps a prefix whole exits
        // long, or one entry more (the three events recorded together never split), and counts the rest exactly.
        #expect(producer.lostEvents > 0)
        #expect(decoded == Array(expected.prefix(decoded.count)))
        #expect(decoded.count % 4 == 0 || decoded.count % 4 == 1)  // an entry may fit where its triple does not
        #expect(UInt64(decoded.count) + producer.lostEvents == UInt64(expected.count))
        #expect(producer.producedEvents == UInt64(expected.count))
    }
}

/// A whole exit recorded in one update (`recordExitEntry(…then:…)`, the hypervisor's null-HVC
/// path) decodes like the entry and the three events recorded separately, page openings
/// included (a page opened for it starts at the entry's timestamp), and drops as one.
@Test func wholeExitRecordedTogetherDecodesLikeSeparateRecords() throws {
    let header = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .cycleCounter, mode: .stopWhenFull,
                              cpuCount: 1, pageSize: 256, pagesPerCPU: 3, counterFrequency: 62_500_000)
    var region = [UInt8](repeating: 0, count: Int(header.regionSize))
    try region.withUnsafeMutableBytes { raw in
        let base = raw.baseAddress!
        initializeTraceRegion(header, at: base)
        var producer = RingProducer<HostPlatform>(region: base, layout: header, cpu: 0)
        var expected: [TimedEvent] = []
        let call = TraceEvent.hypercall(conduit: .hvc, immediate: 0, functionID: 0xC600_0000)
        for exit in 0..<60 {
            let entryTime = UInt64(exit * 300)  // deltas ≥ 128: two-byte varints
            producer.recordExitEntry(ec: 0x16, iss: 0, vcpu: PreencodedVarint(0x100), timestamp: entryTime,
                                     then: call, .hypercallResult(0), .exitReturn, timestamp: entryTime + 150)
            expected.append(TimedEvent(timestamp: entryTime, cpu: 0, event: .exitEntry(ec: 0x16, iss: 0, vcpu: 0x100)))
            expected += [call, .hypercallResult(0), .exitReturn].map { TimedEvent(timestamp: entryTime + 150, cpu: 0, event: $0) }
        }
        producer.flush()
        var decoded: [TimedEvent] = []
        for sequence in 0..<producer.sequence {
            let page = UnsafeRawBufferPointer(start: base + header.pageOffset(cpu: 0, sequence: sequence),
                                              count: Int(header.pageSize))
            var decoder = try PageDecoder(bytes: page, pageSize: Int(header.pageSize), cpuCount: 1)
            while let event = try decoder.next() { decoded.append(event) }
        }
        #expect(producer.sequence == 3)
        #expect(producer.lostEvents > 0)
        #expect(decoded == Array(expected.prefix(decoded.count)))
        #expect(decoded.count % 4 == 0)  // the four never split
        #expect(UInt64(decoded.count) + producer.lostEvents == UInt64(expected.count))
        #expect(producer.producedEvents == UInt64(expected.count))
    }
}

/// guest_pc is an extension record: a decoder that does not know id 64 (1.0) skips it by its length
/// and still decodes the record after it with the right timestamp, and a longer payload (a later
/// minor version adding fields) is skipped past by this decoder.
@Test func guestPCIsSkippableAndForwardCompatible() throws {
    var bytes = [UInt8](repeating: 0, count: 64)
    let afterPC = bytes.withUnsafeMutableBytes { RecordEncoder.encode(.guestPC(0x4008_1130), delta: 5, to: $0.baseAddress!, at: 0) }
    #expect(bytes[0] == EventID.guestPC.rawValue && bytes[1] == 5 && Int(bytes[2]) == afterPC - 3)
    // The same record with two extra payload bytes, as a later version might write it.
    var longer = Array(bytes[0..<afterPC])
    longer[2] += 2
    longer += [0xAA, 0x01]
    let returnRecordStart = longer.count
    longer += [0, 0]
    _ = longer.withUnsafeMutableBytes { RecordEncoder.encode(.exitReturn, delta: 7, to: $0.baseAddress!, at: returnRecordStart) }
    try longer.withUnsafeBytes { raw in
        var decoder = RecordDecoder(base: raw.baseAddress!, length: longer.count)
        #expect(try decoder.next()?.event == .guestPC(0x4008_1130))
        let next = try #require(try decoder.next())
        #expect(next.event == .exitReturn && next.delta == 7)
    }
}

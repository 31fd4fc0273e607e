// Encoding and decoding of one record: id byte, timestamp delta (varint, relative to the previous
// record in the same page, or to the page header's timestamp for the first record), then the
// event's fields as varints. Producer (hypervisor, synthetic writer) and consumer share this file.

/// The largest record the encoder can produce (id + delta + the widest field set, guestMarker:
/// 1 + 10 + 5 + 10), rounded up; also covers the extra zero byte `PreencodedVarint` may store. A producer opens a new page when fewer bytes than this are left.
public let maxRecordLength = 32

/// Encodes records.
public enum RecordEncoder {
    /// Writes `event` at `pointer + offset` with the timestamp delta `delta` and returns the offset
    /// just past it. The caller guarantees `maxRecordLength` writable bytes, so offsets stay far
    /// below overflow: wrapping arithmetic (`&+`) keeps overflow traps out of the hypervisor's hot path.
    @inline(__always)
    public static func encode(_ event: TraceEvent, delta: UInt64,
                              to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        var cursor = storeHeader(event.id, delta: delta, to: pointer, at: offset)
        switch event {
        case let .exitEntry(ec, iss, vcpu):
            cursor = storeExitEntryFields(ec: ec, iss: iss, to: pointer, at: cursor)
            cursor = Varint.store(UInt64(vcpu), to: pointer, at: cursor)
        case .exitReturn:
            break
        case let .hypercall(conduit, immediate, functionID):
            cursor = Varint.store((UInt64(immediate) << 1) | UInt64(conduit.rawValue), to: pointer, at: cursor)
            cursor = Varint.store(FunctionIDPacking.pack(functionID), to: pointer, at: cursor)
        case let .hypercallResult(value):
            cursor = Varint.store(ZigZag.encode(value), to: pointer, at: cursor)
        case let .stage2Fault(ipa, access, outcome):
            cursor = Varint.store(ipa, to: pointer, at: cursor)
            pointer.storeBytes(of: access.rawValue, toByteOffset: cursor, as: UInt8.self)
            pointer.storeBytes(of: outcome.rawValue, toByteOffset: cursor &+ 1, as: UInt8.self)
            cursor &+= 2
        case let .mmioAccess(device, offsetInDevice, access, value):
            pointer.storeBytes(of: device, toByteOffset: cursor, as: UInt8.self)
            cursor = Varint.store(UInt64(offsetInDevice), to: pointer, at: cursor &+ 1)
            pointer.storeBytes(of: access.rawValue, toByteOffset: cursor, as: UInt8.self)
            cursor = Varint.store(value, to: pointer, at: cursor &+ 1)
        case let .physicalIRQ(intid):
            cursor = Varint.store(UInt64(intid), to: pointer, at: cursor)
        case let .virtualIRQ(intid, vcpu):
            cursor = Varint.store(UInt64(intid), to: pointer, at: cursor)
            cursor = Varint.store(UInt64(vcpu), to: pointer, at: cursor)
        case let .waitForInterrupt(kind):
            pointer.storeBytes(of: kind.rawValue, toByteOffset: cursor, as: UInt8.self)
            cursor &+= 1
        case let .sysregTrap(encoding, isWrite):
            cursor = Varint.store((UInt64(encoding) << 1) | (isWrite ? 1 : 0), to: pointer, at: cursor)
        case let .spanEnter(phase), let .spanLeave(phase):
            pointer.storeBytes(of: phase, toByteOffset: cursor, as: UInt8.self)
            cursor &+= 1
        case let .guestMarker(id, value):
            cursor = Varint.store(UInt64(id), to: pointer, at: cursor)
            cursor = Varint.store(value, to: pointer, at: cursor)
        case let .lostEvents(count):
            cursor = Varint.store(count, to: pointer, at: cursor)
        case let .guestPC(pc):
            // Extension record: payload length (one byte: a varint of at most 10 bytes), payload.
            let payloadEnd = Varint.store(pc, to: pointer, at: cursor &+ 1)
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: payloadEnd &- cursor &- 1), toByteOffset: cursor, as: UInt8.self)
            cursor = payloadEnd
        }
        return cursor
    }
}

extension RecordEncoder {
    /// Writes an `exitEntry` record whose vCPU field was encoded ahead of time (the hypervisor
    /// keeps it per vCPU): the same bytes as `encode(.exitEntry(…))`, without the vCPU varint's
    /// branches on every exit.
    @inline(__always)
    public static func encodeExitEntry(ec: UInt8, iss: UInt32, vcpu: PreencodedVarint, delta: UInt64,
                                       to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        let cursor = storeHeader(.exitEntry, delta: delta, to: pointer, at: offset)
        return vcpu.store(to: pointer, at: storeExitEntryFields(ec: ec, iss: iss, to: pointer, at: cursor))
    }

    /// The EC byte and ISS varint of an `exitEntry` record.
    @inline(__always)
    static func storeExitEntryFields(ec: UInt8, iss: UInt32, to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        pointer.storeBytes(of: ec, toByteOffset: offset, as: UInt8.self)
        return Varint.store(UInt64(iss), to: pointer, at: offset &+ 1)
    }

    /// Writes a record's id byte and timestamp delta and returns the offset just past them. A delta
    /// below 128 (consecutive events of one exit) goes out with the id in one 16-bit store.
    @inline(__always)
    public static func storeHeader(_ id: EventID, delta: UInt64,
                                   to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        if _fastPath(delta < 0x80) {
            let pair = UInt16(id.rawValue) | UInt16(truncatingIfNeeded: delta) << 8
            pointer.storeBytes(of: pair.littleEndian, toByteOffset: offset, as: UInt16.self)
            return offset &+ 2
        }
        pointer.storeBytes(of: id.rawValue, toByteOffset: offset, as: UInt8.self)
        return Varint.store(delta, to: pointer, at: offset &+ 1)
    }
}

/// Why a record could not be decoded. Offsets are relative to the start of the page's record area.
public enum RecordDecodeError: Error, Equatable, Sendable {
    /// A varint ran past the end of the used bytes, or was longer than 64 bits.
    case varintOverrun(offset: Int)
    /// The id byte is not one this decoder knows and is not in the skippable extension range.
    case unknownEvent(id: UInt8, offset: Int)
    /// A field holds a value its event does not allow (e.g. an enum value that does not exist).
    case fieldOutOfRange(event: EventID, offset: Int)
    /// A fixed-size field or an extension payload runs past the end of the used bytes.
    case truncatedRecord(offset: Int)
}

/// One decoded record: the event, the delta it carried, and where it started.
public struct DecodedRecord: Equatable, Sendable {
    public var event: TraceEvent
    public var delta: UInt64
    public var offset: Int

    @inlinable
    init(event: TraceEvent, delta: UInt64, offset: Int) {
        self.event = event
        self.delta = delta
        self.offset = offset
    }
}

/// Decodes the records of one page body in order. Stops at the end-of-records byte or at `end`.
/// Extension records (ids 64...127) it does not know are skipped and counted (guest_pc, 64, it
/// decodes); anything malformed ends the page with
/// a typed error (the rest of a page cannot be trusted once a record boundary is lost).
public struct RecordDecoder {
    public let base: UnsafeRawPointer
    public let end: Int
    /// Offset of the next record.
    public var offset: Int { nextOffset }
    /// Extension records skipped because this decoder does not know them.
    public var skippedExtensionRecords: Int { skippedExtensions }
    @usableFromInline var nextOffset = 0
    @usableFromInline var skippedExtensions = 0
    /// Deltas of skipped extension records not yet added to a returned record.
    @usableFromInline var skippedDelta: UInt64 = 0

    @inlinable
    public init(base: UnsafeRawPointer, length: Int) {
        self.base = base
        self.end = length
    }

    /// The next record, nil at the end of the records.
    @inlinable
    public mutating func next() throws(RecordDecodeError) -> DecodedRecord? {
        guard let record = try nextRecordHeader() else { return nil }
        var cursor = record.fieldsOffset
        var capture = EventCapture()
        try decodeFields(record.id, at: &cursor, recordStart: record.start, timestamp: 0, into: &capture)
        nextOffset = cursor
        return DecodedRecord(event: capture.event, delta: record.delta, offset: record.start)
    }

    /// Decodes every remaining record, calling `visitor` once per record with its absolute
    /// timestamp (`clock` plus the deltas so far; `clock` is left at the last record's time).
    /// On a malformed record it throws, having delivered every record before it. The fast path of
    /// whole-page analyses (see `RecordVisitor`).
    ///
    /// The loop keeps the read position, the clock and the carried delta in locals (stored back at
    /// the end, or at the failing record) so they stay in registers.
    @inlinable
    public mutating func decodeAll<Visitor: RecordVisitor>(clock: inout UInt64, into visitor: inout Visitor) throws(RecordDecodeError) {
        var cursor = nextOffset
        var time = clock
        var carried = skippedDelta
        var skipped = skippedExtensions
        defer {
            clock = time
            skippedDelta = carried
            skippedExtensions = skipped
        }
        while true {
            let next: (id: UInt8, start: Int, delta: UInt64)?
            do {
                next = try readRecordHeader(&cursor, carried: &carried, skipped: &skipped)
            } catch {
                nextOffset = cursor
                throw error
            }
            guard let header = next else { break }
            time &+= header.delta
            do {
                try decodeFields(header.id, at: &cursor, recordStart: header.start, timestamp: time, into: &visitor)
            } catch {
                nextOffset = header.start
                throw error
            }
        }
        nextOffset = cursor
    }

    /// Reads the id byte and timestamp delta of the next fixed-shape record, skipping (and
    /// counting) extension records on the way; nil at the end of the records. The returned delta
    /// includes those of skipped extension records (deltas chain from record to record).
    @inlinable @inline(__always)
    mutating func nextRecordHeader() throws(RecordDecodeError) -> (id: UInt8, start: Int, fieldsOffset: Int, delta: UInt64)? {
        var cursor = nextOffset, carried = skippedDelta, skipped = skippedExtensions
        defer {
            nextOffset = cursor
            skippedDelta = carried
            skippedExtensions = skipped
        }
        guard let header = try readRecordHeader(&cursor, carried: &carried, skipped: &skipped) else {
            return nil
        }
        let fieldsOffset = cursor
        cursor = header.start  // `next()` moves past the fields once they are decoded
        return (header.id, header.start, fieldsOffset, header.delta)
    }

    /// The record-header logic both reading APIs share. Reads at `cursor`, skipping extension
    /// records (counted in `skipped`, their deltas added to `carried`), and returns the next
    /// fixed-shape record's id, start and delta (plus `carried`, which is then reset) with `cursor`
    /// at its fields; nil at the end of the records. When it throws, `cursor` is at the start of
    /// the malformed record. Takes its state as parameters so a caller can keep it in locals.
    @inlinable @inline(__always)
    func readRecordHeader(_ cursor: inout Int, carried: inout UInt64, skipped: inout Int)
        throws(RecordDecodeError) -> (id: UInt8, start: Int, delta: UInt64)? {
        while cursor < end {
            let start = cursor
            let id = base.load(fromByteOffset: start, as: UInt8.self)
            if id == EventID.endOfRecords { return nil }
            var position = start &+ 1
            guard let delta = Varint.load(from: base, at: &position, end: end) else {
                throw .varintOverrun(offset: position)
            }
            if _slowPath(id >= EventID.firstExtensionID && id < EventID.endOfValidIDs) && id != EventID.guestPC.rawValue {
                guard let length = Varint.load(from: base, at: &position, end: end) else {
                    throw .varintOverrun(offset: position)
                }
                guard length <= UInt64(end - position) else { throw .truncatedRecord(offset: start) }
                cursor = position + Int(length)
                skipped += 1
                // The next record's delta is relative to this one: carry the skipped delta over.
                carried &+= delta
                continue
            }
            cursor = position
            let total = delta &+ carried
            carried = 0
            return (id, start, total)
        }
        return nil
    }

    @inlinable @inline(__always)
    func varint(_ cursor: inout Int) throws(RecordDecodeError) -> UInt64 {
        guard let value = Varint.load(from: base, at: &cursor, end: end) else {
            throw .varintOverrun(offset: cursor)
        }
        return value
    }

    @inlinable @inline(__always)
    func byte(_ cursor: inout Int, recordStart: Int) throws(RecordDecodeError) -> UInt8 {
        guard cursor < end else { throw .truncatedRecord(offset: recordStart) }
        let value = base.load(fromByteOffset: cursor, as: UInt8.self)
        cursor += 1
        return value
    }

    @inlinable @inline(__always)
    func bounded<T: FixedWidthInteger & UnsignedInteger>(
        _ value: UInt64, as: T.Type, _ event: EventID, _ recordStart: Int
    ) throws(RecordDecodeError) -> T {
        guard value <= UInt64(T.max) else { throw .fieldOutOfRange(event: event, offset: recordStart) }
        return T(truncatingIfNeeded: value)
    }

    /// Decodes the fields of a record with id byte `id` and hands the event to `visitor`. The call
    /// sits inside each case, so an inlined visitor sees which case it got at compile time.
    @inlinable @inline(__always)
    func decodeFields<Visitor: RecordVisitor>(_ id: UInt8, at cursor: inout Int, recordStart: Int, timestamp: UInt64,
                                              into visitor: inout Visitor) throws(RecordDecodeError) {
        switch id {
        case EventID.exitEntry.rawValue:
            let ec = try byte(&cursor, recordStart: recordStart)
            let iss = try bounded(try varint(&cursor), as: UInt32.self, .exitEntry, recordStart)
            let vcpu = try bounded(try varint(&cursor), as: UInt16.self, .exitEntry, recordStart)
            visitor.visit(.exitEntry(ec: ec, iss: iss, vcpu: vcpu), timestamp: timestamp)
        case EventID.exitReturn.rawValue:
            visitor.visit(.exitReturn, timestamp: timestamp)
        case EventID.hypercall.rawValue:
            let packed = try varint(&cursor)
            guard packed >> 1 <= UInt64(UInt16.max) else { throw .fieldOutOfRange(event: .hypercall, offset: recordStart) }
            let function = try bounded(try varint(&cursor), as: UInt32.self, .hypercall, recordStart)
            visitor.visit(.hypercall(conduit: packed & 1 == 0 ? .hvc : .smc, immediate: UInt16(packed >> 1),
                                     functionID: FunctionIDPacking.unpack(UInt64(function))), timestamp: timestamp)
        case EventID.hypercallResult.rawValue:
            visitor.visit(.hypercallResult(ZigZag.decode(try varint(&cursor))), timestamp: timestamp)
        case EventID.stage2Fault.rawValue:
            let ipa = try varint(&cursor)
            let access = try byte(&cursor, recordStart: recordStart)
            guard let outcome = Stage2Outcome(validRawValue: try byte(&cursor, recordStart: recordStart)) else {
                throw .fieldOutOfRange(event: .stage2Fault, offset: recordStart)
            }
            visitor.visit(.stage2Fault(ipa: ipa, access: AccessInfo(rawValue: access), outcome: outcome), timestamp: timestamp)
        case EventID.mmioAccess.rawValue:
            let device = try byte(&cursor, recordStart: recordStart)
            let offsetInDevice = try bounded(try varint(&cursor), as: UInt32.self, .mmioAccess, recordStart)
            let access = try byte(&cursor, recordStart: recordStart)
            let value = try varint(&cursor)
            visitor.visit(.mmioAccess(device: device, offset: offsetInDevice, access: AccessInfo(rawValue: access), value: value),
                          timestamp: timestamp)
        case EventID.physicalIRQ.rawValue:
            visitor.visit(.physicalIRQ(intid: try bounded(try varint(&cursor), as: UInt16.self, .physicalIRQ, recordStart)),
                          timestamp: timestamp)
        case EventID.virtualIRQ.rawValue:
            let intid = try bounded(try varint(&cursor), as: UInt16.self, .virtualIRQ, recordStart)
            let vcpu = try bounded(try varint(&cursor), as: UInt16.self, .virtualIRQ, recordStart)
            visitor.visit(.virtualIRQ(intid: intid, vcpu: vcpu), timestamp: timestamp)
        case EventID.waitForInterrupt.rawValue:
            guard let kind = WaitKind(validRawValue: try byte(&cursor, recordStart: recordStart)) else {
                throw .fieldOutOfRange(event: .waitForInterrupt, offset: recordStart)
            }
            visitor.visit(.waitForInterrupt(kind), timestamp: timestamp)
        case EventID.sysregTrap.rawValue:
            let packed = try bounded(try varint(&cursor), as: UInt32.self, .sysregTrap, recordStart)
            guard packed >> 1 <= UInt32(UInt16.max) else { throw .fieldOutOfRange(event: .sysregTrap, offset: recordStart) }
            visitor.visit(.sysregTrap(encoding: UInt16(packed >> 1), isWrite: packed & 1 == 1), timestamp: timestamp)
        case EventID.spanEnter.rawValue:
            visitor.visit(.spanEnter(phase: try byte(&cursor, recordStart: recordStart)), timestamp: timestamp)
        case EventID.spanLeave.rawValue:
            visitor.visit(.spanLeave(phase: try byte(&cursor, recordStart: recordStart)), timestamp: timestamp)
        case EventID.guestMarker.rawValue:
            let markerID = try bounded(try varint(&cursor), as: UInt32.self, .guestMarker, recordStart)
            visitor.visit(.guestMarker(id: markerID, value: try varint(&cursor)), timestamp: timestamp)
        case EventID.lostEvents.rawValue:
            visitor.visit(.lostEvents(count: try varint(&cursor)), timestamp: timestamp)
        case EventID.guestPC.rawValue:
            // An extension record this decoder knows: the PC is the payload's first field; a longer
            // payload (a later minor version) is skipped past.
            let length = try varint(&cursor)
            guard length <= UInt64(end - cursor) else { throw .truncatedRecord(offset: recordStart) }
            let payloadEnd = cursor + Int(length)
            var payload = RecordDecoder(base: base, length: payloadEnd)
            payload.nextOffset = cursor
            let pc = try payload.varint(&cursor)
            cursor = payloadEnd
            visitor.visit(.guestPC(pc), timestamp: timestamp)
        default:
            throw .unknownEvent(id: id, offset: recordStart)
        }
    }
}

/// Receives records from `RecordDecoder.decodeAll(clock:into:)` / `PageDecoder.decodeAll(into:)`,
/// each with its absolute timestamp. The decoder calls `visit` from inside its switch on the id
/// byte, so once both are inlined into the caller's specialisation (mark `visit` `@inline(__always)`)
/// the `TraceEvent` is never built: the visitor's own switch on it folds to the one case, and fields
/// the visitor ignores are only skipped.
public protocol RecordVisitor {
    mutating func visit(_ event: TraceEvent, timestamp: UInt64)
}

/// The visitor behind `RecordDecoder.next()`: keeps the one event it is given.
@usableFromInline
struct EventCapture: RecordVisitor {
    @usableFromInline var event: TraceEvent = .exitReturn

    @inlinable init() {}

    @inlinable @inline(__always)
    mutating func visit(_ event: TraceEvent, timestamp: UInt64) { self.event = event }
}

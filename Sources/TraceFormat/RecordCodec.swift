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
}

/// Decodes the records of one page body in order. Stops at the end-of-records byte or at `end`.
/// Extension records (ids 64...127) are skipped and counted; anything malformed ends the page with
/// a typed error (the rest of a page cannot be trusted once a record boundary is lost).
public struct RecordDecoder {
    public let base: UnsafeRawPointer
    public let end: Int
    public private(set) var offset: Int = 0
    /// Extension records skipped because this decoder does not know them.
    public private(set) var skippedExtensionRecords = 0
    /// Deltas of skipped extension records not yet added to a returned record.
    var skippedDelta: UInt64 = 0

    public init(base: UnsafeRawPointer, length: Int) {
        self.base = base
        self.end = length
    }

    /// The next record, nil at the end of the records.
    public mutating func next() throws(RecordDecodeError) -> DecodedRecord? {
        while true {
            guard offset < end else { return nil }
            let start = offset
            let id = base.load(fromByteOffset: start, as: UInt8.self)
            if id == EventID.endOfRecords { return nil }
            var cursor = start + 1
            guard let delta = Varint.load(from: base, at: &cursor, end: end) else {
                throw .varintOverrun(offset: cursor)
            }
            if id >= EventID.firstExtensionID && id < EventID.endOfValidIDs {
                guard let length = Varint.load(from: base, at: &cursor, end: end) else {
                    throw .varintOverrun(offset: cursor)
                }
                guard length <= UInt64(end - cursor) else { throw .truncatedRecord(offset: start) }
                offset = cursor + Int(length)
                skippedExtensionRecords += 1
                // The next record's delta is relative to this one: carry the skipped delta over.
                skippedDelta &+= delta
                continue
            }
            guard let eventID = EventID(rawValue: id) else { throw .unknownEvent(id: id, offset: start) }
            let event = try decodeFields(eventID, at: &cursor, recordStart: start)
            offset = cursor
            let total = delta &+ skippedDelta
            skippedDelta = 0
            return DecodedRecord(event: event, delta: total, offset: start)
        }
    }

    @inline(__always)
    private func varint(_ cursor: inout Int) throws(RecordDecodeError) -> UInt64 {
        guard let value = Varint.load(from: base, at: &cursor, end: end) else {
            throw .varintOverrun(offset: cursor)
        }
        return value
    }

    @inline(__always)
    private func byte(_ cursor: inout Int, recordStart: Int) throws(RecordDecodeError) -> UInt8 {
        guard cursor < end else { throw .truncatedRecord(offset: recordStart) }
        let value = base.load(fromByteOffset: cursor, as: UInt8.self)
        cursor += 1
        return value
    }

    @inline(__always)
    private func bounded<T: FixedWidthInteger & UnsignedInteger>(
        _ value: UInt64, as: T.Type, _ event: EventID, _ recordStart: Int
    ) throws(RecordDecodeError) -> T {
        guard value <= UInt64(T.max) else { throw .fieldOutOfRange(event: event, offset: recordStart) }
        return T(truncatingIfNeeded: value)
    }

    private func decodeFields(_ id: EventID, at cursor: inout Int, recordStart: Int) throws(RecordDecodeError) -> TraceEvent {
        switch id {
        case .exitEntry:
            let ec = try byte(&cursor, recordStart: recordStart)
            let iss = try bounded(try varint(&cursor), as: UInt32.self, id, recordStart)
            let vcpu = try bounded(try varint(&cursor), as: UInt16.self, id, recordStart)
            return .exitEntry(ec: ec, iss: iss, vcpu: vcpu)
        case .exitReturn:
            return .exitReturn
        case .hypercall:
            let packed = try varint(&cursor)
            guard packed >> 1 <= UInt64(UInt16.max) else { throw .fieldOutOfRange(event: id, offset: recordStart) }
            let function = try bounded(try varint(&cursor), as: UInt32.self, id, recordStart)
            return .hypercall(conduit: packed & 1 == 0 ? .hvc : .smc, immediate: UInt16(packed >> 1),
                              functionID: FunctionIDPacking.unpack(UInt64(function)))
        case .hypercallResult:
            return .hypercallResult(ZigZag.decode(try varint(&cursor)))
        case .stage2Fault:
            let ipa = try varint(&cursor)
            let access = try byte(&cursor, recordStart: recordStart)
            guard let outcome = Stage2Outcome(rawValue: try byte(&cursor, recordStart: recordStart)) else {
                throw .fieldOutOfRange(event: id, offset: recordStart)
            }
            return .stage2Fault(ipa: ipa, access: AccessInfo(rawValue: access), outcome: outcome)
        case .mmioAccess:
            let device = try byte(&cursor, recordStart: recordStart)
            let offsetInDevice = try bounded(try varint(&cursor), as: UInt32.self, id, recordStart)
            let access = try byte(&cursor, recordStart: recordStart)
            let value = try varint(&cursor)
            return .mmioAccess(device: device, offset: offsetInDevice, access: AccessInfo(rawValue: access), value: value)
        case .physicalIRQ:
            return .physicalIRQ(intid: try bounded(try varint(&cursor), as: UInt16.self, id, recordStart))
        case .virtualIRQ:
            let intid = try bounded(try varint(&cursor), as: UInt16.self, id, recordStart)
            let vcpu = try bounded(try varint(&cursor), as: UInt16.self, id, recordStart)
            return .virtualIRQ(intid: intid, vcpu: vcpu)
        case .waitForInterrupt:
            guard let kind = WaitKind(rawValue: try byte(&cursor, recordStart: recordStart)) else {
                throw .fieldOutOfRange(event: id, offset: recordStart)
            }
            return .waitForInterrupt(kind)
        case .sysregTrap:
            let packed = try bounded(try varint(&cursor), as: UInt32.self, id, recordStart)
            guard packed >> 1 <= UInt32(UInt16.max) else { throw .fieldOutOfRange(event: id, offset: recordStart) }
            return .sysregTrap(encoding: UInt16(packed >> 1), isWrite: packed & 1 == 1)
        case .spanEnter:
            return .spanEnter(phase: try byte(&cursor, recordStart: recordStart))
        case .spanLeave:
            return .spanLeave(phase: try byte(&cursor, recordStart: recordStart))
        case .guestMarker:
            let markerID = try bounded(try varint(&cursor), as: UInt32.self, id, recordStart)
            return .guestMarker(id: markerID, value: try varint(&cursor))
        case .lostEvents:
            return .lostEvents(count: try varint(&cursor))
        }
    }
}

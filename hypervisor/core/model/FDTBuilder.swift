// A flattened-devicetree (DTB) writer for building guest device trees.
//
// Format: Devicetree Specification v0.4, chapter 5 ("Flattened Devicetree (DTB) Format"):
// a 40-byte header, the memory reservation block (16-byte entries ending in a zero entry), the
// structure block (big-endian 32-bit tokens FDT_BEGIN_NODE/FDT_END_NODE/FDT_PROP/FDT_END, each
// name and value padded to 4 bytes) and the strings block (NUL-terminated property names that
// FDT_PROP refers to by offset).
//
// Embedded-safe: no Foundation, no existentials, no allocation, typed throws. Names are
// `StaticString`s (device-tree names in a hypervisor are literals); values that are only known at
// run time (bootargs copied from the host's DTB) can be given as any `Collection` of bytes.

/// Tokens of the structure block (Devicetree Specification §5.4.1).
enum FDTToken: UInt32 {
    case beginNode = 0x1
    case endNode = 0x2
    case property = 0x3
    case nop = 0x4
    case end = 0x9
}

/// Fixed values of the DTB header (Devicetree Specification §5.2).
enum FDTHeader {
    static let magic: UInt32 = 0xD00D_FEED
    static let size = 40
    /// We write version 17, readable by anything that understands version 16.
    static let version: UInt32 = 17
    static let lastCompatibleVersion: UInt32 = 16
    /// Size of one memory reservation entry (two big-endian u64: address, size).
    static let reservationEntrySize = 16

    // Byte offsets of the header's big-endian u32 fields.
    static let magicOffset = 0
    static let totalSizeOffset = 4
    static let structOffsetOffset = 8
    static let stringsOffsetOffset = 12
    static let reservationMapOffsetOffset = 16
    static let versionOffset = 20
    static let lastCompatibleVersionOffset = 24
    static let bootCPUOffset = 28
    static let stringsSizeOffset = 32
    static let structSizeOffset = 36
}

/// Why a DTB could not be built. Offsets are byte offsets into the caller's buffer.
public enum FDTBuildError: Error, Equatable {
    /// The structure block would grow past `limit` (where the strings area starts) at `offset`.
    case outOfSpace(offset: Int, needed: Int, limit: Int)
    /// The strings area (`capacity` bytes at the end of the buffer) cannot take `needed` more bytes.
    case stringsAreaFull(needed: Int, capacity: Int)
    /// The buffer cannot hold a header, an empty reservation map and the strings area.
    case bufferTooSmall(capacity: Int, minimum: Int)
    /// `endNode()` with no node open (structure offset `offset`).
    case endNodeWithoutOpenNode(offset: Int)
    /// A property, or a second root node, written outside any open node.
    case propertyOutsideNode(offset: Int)
    /// `beginNode`/`endNode`/`finish` while a property started with `beginProperty` is still open,
    /// or cells/strings appended with no property open.
    case propertyState(offset: Int)
    /// `addMemoryReservation` after the first node was written.
    case reservationAfterNodes
    /// `finish()` with `depth` nodes still open.
    case unclosedNodes(depth: Int)
    /// A second root node, or any call after `finish()`.
    case alreadyFinished
}

/// Writes a DTB (version 17) into a caller-provided buffer.
///
/// Usage: optional `addMemoryReservation`, then `beginNode("")` for the root, properties and child
/// nodes, `endNode()` for each node, and `finish()`, which returns the blob's size. The structure
/// block grows from the front of the buffer; property names collect in a strings area at the back
/// of the buffer (`stringsCapacity` bytes) and are moved behind the structure block by `finish()`.
/// Property names are de-duplicated.
public struct FDTBuilder {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Start of the strings area at the end of `buffer`.
    private let stringsAreaStart: Int
    private var stringsLength = 0
    /// Offset of the structure block (after the reservation map).
    private var structStart: Int
    /// Next free byte of the structure block.
    private var cursor: Int
    private var reservationCount = 0
    private var depth = 0
    private var rootWritten = false
    private var finished = false
    /// Offset of the length field of the property opened by `beginProperty`, if any.
    private var openPropertyLengthOffset: Int?

    /// Prepares to write into `buffer`, keeping its last `stringsCapacity` bytes for property names.
    public init(buffer: UnsafeMutableRawBufferPointer, stringsCapacity: Int = 1024) throws(FDTBuildError) {
        let minimum = FDTHeader.size + FDTHeader.reservationEntrySize + 4 + stringsCapacity
        guard buffer.baseAddress != nil, buffer.count >= minimum, stringsCapacity >= 0 else {
            throw .bufferTooSmall(capacity: buffer.count, minimum: minimum)
        }
        self.buffer = buffer
        self.stringsAreaStart = buffer.count - stringsCapacity
        self.structStart = FDTHeader.size + FDTHeader.reservationEntrySize
        self.cursor = structStart
    }

    // MARK: Memory reservations

    /// Adds a /memreserve/ entry (Devicetree Specification §5.3). Only before the root node.
    public mutating func addMemoryReservation(address: UInt64, size: UInt64) throws(FDTBuildError) {
        guard !finished else { throw .alreadyFinished }
        guard !rootWritten else { throw .reservationAfterNodes }
        try reserveStruct(FDTHeader.reservationEntrySize)
        let entry = FDTHeader.size + reservationCount * FDTHeader.reservationEntrySize
        storeBigEndian(address, at: entry)
        storeBigEndian(size, at: entry + 8)
        reservationCount += 1
        structStart += FDTHeader.reservationEntrySize
        cursor = structStart
    }

    // MARK: Nodes

    /// Opens a node named `name` ("" for the root).
    public mutating func beginNode(_ name: StaticString) throws(FDTBuildError) {
        try beginNode(bytes: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), unitAddress: nil)
    }

    /// Opens a node named `name@<unitAddress in lowercase hex>`, e.g. `memory@40000000`.
    public mutating func beginNode(_ name: StaticString, unitAddress: UInt64) throws(FDTBuildError) {
        try beginNode(bytes: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), unitAddress: unitAddress)
    }

    private mutating func beginNode(bytes name: UnsafeRawBufferPointer, unitAddress: UInt64?) throws(FDTBuildError) {
        guard !finished else { throw .alreadyFinished }
        guard openPropertyLengthOffset == nil else { throw .propertyState(offset: cursor) }
        if depth == 0 {
            // Only one root node per tree.
            guard !rootWritten else { throw .propertyOutsideNode(offset: cursor) }
            rootWritten = true
        }
        let digits = unitAddress.map { Self.hexDigitCount($0) } ?? 0
        let nameLength = name.count + (unitAddress == nil ? 0 : 1 + digits)
        try reserveStruct(4 + Self.padded(nameLength + 1))
        appendToken(.beginNode)
        for byte in name { appendByte(byte) }
        if let unitAddress {
            appendByte(UInt8(ascii: "@"))
            appendHex(unitAddress)
        }
        appendByte(0)
        padCursor()
        depth += 1
    }

    /// Closes the innermost open node.
    public mutating func endNode() throws(FDTBuildError) {
        guard !finished else { throw .alreadyFinished }
        guard openPropertyLengthOffset == nil else { throw .propertyState(offset: cursor) }
        guard depth > 0 else { throw .endNodeWithoutOpenNode(offset: cursor) }
        try reserveStruct(4)
        appendToken(.endNode)
        depth -= 1
    }

    // MARK: Properties: incremental

    /// Starts a property whose value is appended with `appendCell`, `appendCells`, `appendString`
    /// or `appendBytes`, and closed with `endProperty()`.
    public mutating func beginProperty(_ name: StaticString) throws(FDTBuildError) {
        guard !finished else { throw .alreadyFinished }
        guard openPropertyLengthOffset == nil else { throw .propertyState(offset: cursor) }
        guard depth > 0 else { throw .propertyOutsideNode(offset: cursor) }
        let nameOffset = try stringOffset(for: name)
        try reserveStruct(12)
        appendToken(.property)
        openPropertyLengthOffset = cursor
        appendU32(0)  // value length, patched by endProperty()
        appendU32(UInt32(nameOffset))
    }

    /// Appends one big-endian 32-bit cell to the open property.
    public mutating func appendCell(_ value: UInt32) throws(FDTBuildError) {
        try requireOpenProperty()
        try reserveStruct(4)
        appendU32(value)
    }

    /// Appends `value` as `count` big-endian cells (1 or 2; the high cell first when 2).
    public mutating func appendCells(_ value: UInt64, count: Int) throws(FDTBuildError) {
        if count >= 2 { try appendCell(UInt32(truncatingIfNeeded: value >> 32)) }
        try appendCell(UInt32(truncatingIfNeeded: value))
    }

    /// Appends a NUL-terminated string (one entry of a string list) to the open property.
    public mutating func appendString(_ value: StaticString) throws(FDTBuildError) {
        try appendBytes(UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
        try appendBytes(CollectionOfOne(UInt8(0)))
    }

    /// Appends the bytes of `value` without a terminator (for building a string piece by piece).
    public mutating func appendBytes(staticString value: StaticString) throws(FDTBuildError) {
        try appendBytes(UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Appends `value` in lowercase hex without leading zeros or prefix (the unit-address form,
    /// e.g. for `stdout-path = "/pl011@9000000"`).
    public mutating func appendHexDigits(_ value: UInt64) throws(FDTBuildError) {
        try requireOpenProperty()
        try reserveStruct(Self.hexDigitCount(value))
        appendHex(value)
    }

    /// Appends raw bytes to the open property (no terminator, no padding until `endProperty`).
    public mutating func appendBytes<Bytes: Collection>(_ bytes: Bytes) throws(FDTBuildError)
    where Bytes.Element == UInt8 {
        try requireOpenProperty()
        try reserveStruct(bytes.count)
        for byte in bytes { appendByte(byte) }
    }

    /// Closes the open property: writes its length and pads the value to 4 bytes.
    public mutating func endProperty() throws(FDTBuildError) {
        try requireOpenProperty()
        guard let lengthOffset = openPropertyLengthOffset else { throw .propertyState(offset: cursor) }
        let valueLength = cursor - (lengthOffset + 8)
        storeBigEndian(UInt32(valueLength), at: lengthOffset)
        try reserveStruct(Self.padded(cursor) - cursor)
        padCursor()
        openPropertyLengthOffset = nil
    }

    // MARK: Properties: one call each

    /// A property with no value (`interrupt-controller;`).
    public mutating func emptyProperty(_ name: StaticString) throws(FDTBuildError) {
        try beginProperty(name)
        try endProperty()
    }

    /// A one-cell property.
    public mutating func property(_ name: StaticString, u32 value: UInt32) throws(FDTBuildError) {
        try beginProperty(name)
        try appendCell(value)
        try endProperty()
    }

    /// A two-cell (64-bit) property.
    public mutating func property(_ name: StaticString, u64 value: UInt64) throws(FDTBuildError) {
        try beginProperty(name)
        try appendCells(value, count: 2)
        try endProperty()
    }

    /// A property of 32-bit cells.
    public mutating func property<Cells: Collection>(_ name: StaticString, cells: Cells) throws(FDTBuildError)
    where Cells.Element == UInt32 {
        try beginProperty(name)
        for cell in cells { try appendCell(cell) }
        try endProperty()
    }

    /// A string property.
    public mutating func property(_ name: StaticString, string value: StaticString) throws(FDTBuildError) {
        try beginProperty(name)
        try appendString(value)
        try endProperty()
    }

    /// A string property whose UTF-8 bytes are known only at run time (no NUL inside).
    public mutating func property<Bytes: Collection>(_ name: StaticString, stringBytes value: Bytes) throws(FDTBuildError)
    where Bytes.Element == UInt8 {
        try beginProperty(name)
        try appendBytes(value)
        try appendBytes(CollectionOfOne(UInt8(0)))
        try endProperty()
    }

    /// A two-entry string list (`compatible = "arm,pl011", "arm,primecell";`).
    public mutating func property(_ name: StaticString, strings first: StaticString, _ second: StaticString) throws(FDTBuildError) {
        try beginProperty(name)
        try appendString(first)
        try appendString(second)
        try endProperty()
    }

    /// A `reg` property of one (address, size) pair, each `addressCells`/`sizeCells` cells wide.
    public mutating func regProperty(address: UInt64, size: UInt64, addressCells: Int = 2, sizeCells: Int = 2) throws(FDTBuildError) {
        try beginProperty("reg")
        try appendCells(address, count: addressCells)
        try appendCells(size, count: sizeCells)
        try endProperty()
    }

    // MARK: Finishing

    /// Ends the structure block, moves the strings behind it, writes the header and returns the
    /// size of the finished blob (its `totalsize`), which starts at the buffer's first byte.
    public mutating func finish(bootCPU: UInt32 = 0) throws(FDTBuildError) -> Int {
        guard !finished else { throw .alreadyFinished }
        guard openPropertyLengthOffset == nil else { throw .propertyState(offset: cursor) }
        guard depth == 0 else { throw .unclosedNodes(depth: depth) }
        try reserveStruct(4)
        appendToken(.end)
        finished = true

        // Terminating (0, 0) reservation entry.
        let terminator = FDTHeader.size + reservationCount * FDTHeader.reservationEntrySize
        storeBigEndian(UInt64(0), at: terminator)
        storeBigEndian(UInt64(0), at: terminator + 8)

        let stringsOffset = cursor
        if stringsLength > 0 {
            // The strings area starts after the structure block (reserveStruct keeps them apart).
            buffer.baseAddress!.advanced(by: stringsOffset)
                .copyMemory(from: buffer.baseAddress!.advanced(by: stringsAreaStart), byteCount: stringsLength)
        }
        let totalSize = stringsOffset + stringsLength
        storeBigEndian(FDTHeader.magic, at: FDTHeader.magicOffset)
        storeBigEndian(UInt32(totalSize), at: FDTHeader.totalSizeOffset)
        storeBigEndian(UInt32(structStart), at: FDTHeader.structOffsetOffset)
        storeBigEndian(UInt32(stringsOffset), at: FDTHeader.stringsOffsetOffset)
        storeBigEndian(UInt32(FDTHeader.size), at: FDTHeader.reservationMapOffsetOffset)
        storeBigEndian(FDTHeader.version, at: FDTHeader.versionOffset)
        storeBigEndian(FDTHeader.lastCompatibleVersion, at: FDTHeader.lastCompatibleVersionOffset)
        storeBigEndian(bootCPU, at: FDTHeader.bootCPUOffset)
        storeBigEndian(UInt32(stringsLength), at: FDTHeader.stringsSizeOffset)
        storeBigEndian(UInt32(stringsOffset - structStart), at: FDTHeader.structSizeOffset)
        return totalSize
    }

    // MARK: Internals

    private func requireOpenProperty() throws(FDTBuildError) {
        guard !finished else { throw .alreadyFinished }
        guard openPropertyLengthOffset != nil else { throw .propertyState(offset: cursor) }
    }

    /// Checks that `count` more structure bytes fit before the strings area.
    private func reserveStruct(_ count: Int) throws(FDTBuildError) {
        guard cursor + count <= stringsAreaStart else {
            throw .outOfSpace(offset: cursor, needed: count, limit: stringsAreaStart)
        }
    }

    /// The offset of `name` in the strings block, adding it if it is not there yet.
    private mutating func stringOffset(for name: StaticString) throws(FDTBuildError) -> Int {
        let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        let strings = UnsafeRawBufferPointer(rebasing: buffer[stringsAreaStart..<(stringsAreaStart + stringsLength)])
        var start = 0
        while start < strings.count {
            var end = start
            while end < strings.count && strings[end] != 0 { end += 1 }
            if end - start == nameBytes.count && strings[start..<end].elementsEqual(nameBytes) {
                return start
            }
            start = end + 1
        }
        let needed = nameBytes.count + 1
        let capacity = buffer.count - stringsAreaStart
        guard stringsLength + needed <= capacity else { throw .stringsAreaFull(needed: needed, capacity: capacity) }
        let offset = stringsLength
        for (index, byte) in nameBytes.enumerated() { buffer[stringsAreaStart + offset + index] = byte }
        buffer[stringsAreaStart + offset + nameBytes.count] = 0
        stringsLength += needed
        return offset
    }

    private mutating func appendToken(_ token: FDTToken) { appendU32(token.rawValue) }

    private mutating func appendU32(_ value: UInt32) {
        storeBigEndian(value, at: cursor)
        cursor += 4
    }

    private mutating func appendByte(_ byte: UInt8) {
        buffer[cursor] = byte
        cursor += 1
    }

    /// Writes `value` as lowercase hex digits (callers have reserved the space).
    private mutating func appendHex(_ value: UInt64) {
        var shift = (Self.hexDigitCount(value) - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
            appendByte(nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10)
            shift -= 4
        }
    }

    /// Zero-fills up to the next 4-byte boundary (callers have reserved the space).
    private mutating func padCursor() {
        while cursor % 4 != 0 { appendByte(0) }
    }

    private func storeBigEndian<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: Value.self)
    }

    private static func padded(_ length: Int) -> Int { (length + 3) & ~3 }

    /// Number of hex digits of `value` without leading zeros (1 for zero).
    private static func hexDigitCount(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 3) / 4
    }
}

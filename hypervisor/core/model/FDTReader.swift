// A minimal flattened-devicetree (DTB) reader: the hypervisor uses it on the DTB QEMU hands it
// (memory size, /chosen/bootargs, GIC and UART addresses).
//
// Format: Devicetree Specification v0.4, chapter 5. Every access is bounds-checked against the
// header's blocks; a malformed blob gives an `FDTReadError` naming the offending offset, never a
// trap. Embedded-safe: no Foundation, no existentials, no allocation, typed throws.

/// Why a DTB could not be read. Offsets are byte offsets from the start of the blob.
public enum FDTReadError: Error, Equatable {
    /// The first word is not 0xd00dfeed.
    case badMagic(found: UInt32)
    /// The blob is shorter than its header, or `totalsize` is larger than the memory given.
    case truncated(totalSize: Int, available: Int)
    /// `last_comp_version` is newer than 17, or `version` older than 16.
    case unsupportedVersion(version: UInt32, lastCompatible: UInt32)
    /// A block described by the header lies outside `totalsize`.
    case blockOutOfRange(offset: Int, size: Int, totalSize: Int)
    /// A structure-block read at `offset` would leave the structure block.
    case structureOverrun(offset: Int)
    /// An unknown or misplaced token at `offset`.
    case badToken(offset: Int, token: UInt32)
    /// A property's name offset points outside the strings block.
    case badStringOffset(propertyOffset: Int, nameOffset: Int)
    /// A property value is shorter than the read asked for.
    case valueTooShort(propertyOffset: Int, length: Int, needed: Int)
}

/// A node: the structure-block offset of its FDT_BEGIN_NODE token.
public struct FDTNode: Equatable {
    public let offset: Int
}

/// A property: where its value lies in the blob and how long it is.
public struct FDTProperty: Equatable {
    /// Offset of the property's FDT_PROP token.
    public let offset: Int
    /// Offset of the first value byte.
    public let valueOffset: Int
    public let length: Int
    /// Offset of the name in the strings block.
    let nameOffset: Int
}

/// Reads a DTB in memory. Create it with `init(blob:)`, which validates the header.
public struct FDTReader {
    private let blob: UnsafeRawBufferPointer
    private let structStart: Int
    private let structEnd: Int
    private let stringsStart: Int
    private let stringsEnd: Int

    /// The blob's `totalsize`.
    public let totalSize: Int

    /// Validates the header of the DTB at the start of `memory` (which may be longer than it).
    public init(blob memory: UnsafeRawBufferPointer) throws(FDTReadError) {
        guard memory.count >= FDTHeader.size, memory.baseAddress != nil else {
            throw .truncated(totalSize: FDTHeader.size, available: memory.count)
        }
        func field(_ offset: Int) -> UInt32 {
            UInt32(bigEndian: memory.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }
        let magic = field(FDTHeader.magicOffset)
        guard magic == FDTHeader.magic else { throw .badMagic(found: magic) }
        let totalSize = Int(field(FDTHeader.totalSizeOffset))
        guard totalSize >= FDTHeader.size, totalSize <= memory.count else {
            throw .truncated(totalSize: totalSize, available: memory.count)
        }
        let version = field(FDTHeader.versionOffset)
        let lastCompatible = field(FDTHeader.lastCompatibleVersionOffset)
        guard version >= 16, lastCompatible <= FDTHeader.version else {
            throw .unsupportedVersion(version: version, lastCompatible: lastCompatible)
        }
        let structStart = Int(field(FDTHeader.structOffsetOffset))
        let structSize = Int(field(FDTHeader.structSizeOffset))
        let stringsStart = Int(field(FDTHeader.stringsOffsetOffset))
        let stringsSize = Int(field(FDTHeader.stringsSizeOffset))
        guard structStart % 4 == 0, structStart + structSize <= totalSize, structSize >= 4 else {
            throw .blockOutOfRange(offset: structStart, size: structSize, totalSize: totalSize)
        }
        guard stringsStart + stringsSize <= totalSize else {
            throw .blockOutOfRange(offset: stringsStart, size: stringsSize, totalSize: totalSize)
        }
        self.blob = UnsafeRawBufferPointer(rebasing: memory[0..<totalSize])
        self.totalSize = totalSize
        self.structStart = structStart
        self.structEnd = structStart + structSize
        self.stringsStart = stringsStart
        self.stringsEnd = stringsStart + stringsSize
    }

    // MARK: Header

    /// `boot_cpuid_phys` from the header.
    public var bootCPU: UInt32 { loadU32(FDTHeader.bootCPUOffset) }

    /// The memory reservation entry at `index`, or nil past the terminating (0, 0) entry.
    public func memoryReservation(at index: Int) throws(FDTReadError) -> (address: UInt64, size: UInt64)? {
        let mapStart = Int(loadU32(FDTHeader.reservationMapOffsetOffset))
        var entry = mapStart
        for current in 0...index {
            guard entry + FDTHeader.reservationEntrySize <= totalSize else {
                throw .blockOutOfRange(offset: entry, size: FDTHeader.reservationEntrySize, totalSize: totalSize)
            }
            let address = loadU64(entry)
            let size = loadU64(entry + 8)
            if address == 0 && size == 0 { return nil }
            if current == index { return (address, size) }
            entry += FDTHeader.reservationEntrySize
        }
        return nil
    }

    // MARK: Nodes

    /// The root node (the first FDT_BEGIN_NODE, after any FDT_NOPs).
    public func root() throws(FDTReadError) -> FDTNode {
        let offset = try skipNops(structStart)
        let token = try token(at: offset)
        guard token == FDTToken.beginNode.rawValue else { throw .badToken(offset: offset, token: token) }
        return FDTNode(offset: offset)
    }

    /// The node's name including any unit address ("memory@40000000"; "" for the root).
    public func name(of node: FDTNode) throws(FDTReadError) -> UnsafeRawBufferPointer {
        let start = node.offset + 4
        let end = try endOfCString(from: start, limit: structEnd)
        return UnsafeRawBufferPointer(rebasing: blob[start..<end])
    }

    /// The node's first child, or nil.
    public func firstChild(of node: FDTNode) throws(FDTReadError) -> FDTNode? {
        var offset = try afterProperties(of: node)
        offset = try skipNops(offset)
        let token = try token(at: offset)
        return token == FDTToken.beginNode.rawValue ? FDTNode(offset: offset) : nil
    }

    /// The node's next sibling, or nil.
    public func nextSibling(of node: FDTNode) throws(FDTReadError) -> FDTNode? {
        let offset = try skipNops(try endOfNode(node))
        guard offset < structEnd else { return nil }
        let token = try token(at: offset)
        return token == FDTToken.beginNode.rawValue ? FDTNode(offset: offset) : nil
    }

    /// The direct child whose name is `name`, or whose name before '@' is `name` when `name` has
    /// no unit address (so "memory" finds "memory@40000000", as Linux's path lookup does).
    public func child(of node: FDTNode, named name: StaticString) throws(FDTReadError) -> FDTNode? {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return try child(of: node, matching: wanted)
    }

    /// The node at an absolute path like "/chosen" or "/cpus/cpu@1" (components match as in
    /// `child(of:named:)`), or nil.
    public func node(atPath path: StaticString) throws(FDTReadError) -> FDTNode? {
        let bytes = UnsafeRawBufferPointer(start: path.utf8Start, count: path.utf8CodeUnitCount)
        var current = try root()
        var start = 0
        while start < bytes.count {
            if bytes[start] == UInt8(ascii: "/") { start += 1; continue }
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "/") { end += 1 }
            guard let next = try child(of: current, matching: UnsafeRawBufferPointer(rebasing: bytes[start..<end])) else {
                return nil
            }
            current = next
            start = end
        }
        return current
    }

    /// The first node after `previous` (in document order; from the root when nil) whose
    /// `compatible` list contains `compatible`, or nil.
    public func node(compatible: StaticString, after previous: FDTNode? = nil) throws(FDTReadError) -> FDTNode? {
        let wanted = UnsafeRawBufferPointer(start: compatible.utf8Start, count: compatible.utf8CodeUnitCount)
        var offset = structStart
        while offset < structEnd {
            let token = try token(at: offset)
            switch token {
            case FDTToken.beginNode.rawValue:
                let node = FDTNode(offset: offset)
                if previous == nil || offset > previous!.offset,
                    let list = try property(of: node, matching: Self.compatibleName),
                    try stringList(list, contains: wanted)
                {
                    return node
                }
                offset = try afterName(ofNodeAt: offset)
            case FDTToken.property.rawValue:
                offset = try nextAfterProperty(at: offset)
            case FDTToken.endNode.rawValue, FDTToken.nop.rawValue:
                offset += 4
            case FDTToken.end.rawValue:
                return nil
            default:
                throw .badToken(offset: offset, token: token)
            }
        }
        return nil
    }

    // MARK: Properties

    /// The node's property named `name`, or nil.
    public func property(of node: FDTNode, named name: StaticString) throws(FDTReadError) -> FDTProperty? {
        try property(of: node, matching: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// The node's first property, or nil.
    public func firstProperty(of node: FDTNode) throws(FDTReadError) -> FDTProperty? {
        let offset = try skipNops(try afterName(ofNodeAt: node.offset))
        return try propertyIfPresent(at: offset)
    }

    /// The property after `property` in the same node, or nil.
    public func nextProperty(after property: FDTProperty) throws(FDTReadError) -> FDTProperty? {
        try propertyIfPresent(at: try skipNops(try nextAfterProperty(at: property.offset)))
    }

    /// The property's name.
    public func name(of property: FDTProperty) throws(FDTReadError) -> UnsafeRawBufferPointer {
        let start = stringsStart + property.nameOffset
        guard property.nameOffset >= 0, start < stringsEnd else {
            throw .badStringOffset(propertyOffset: property.offset, nameOffset: property.nameOffset)
        }
        let end = try endOfCString(from: start, limit: stringsEnd)
        return UnsafeRawBufferPointer(rebasing: blob[start..<end])
    }

    /// The property's raw value bytes.
    public func value(of property: FDTProperty) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: blob[property.valueOffset..<(property.valueOffset + property.length)])
    }

    /// The value as a string without its terminating NUL (the first entry of a string list).
    public func string(of property: FDTProperty) -> UnsafeRawBufferPointer {
        let value = value(of: property)
        var end = 0
        while end < value.count && value[end] != 0 { end += 1 }
        return UnsafeRawBufferPointer(rebasing: value[0..<end])
    }

    /// The big-endian 32-bit cell at `index`.
    public func cell(of property: FDTProperty, at index: Int) throws(FDTReadError) -> UInt32 {
        let needed = (index + 1) * 4
        guard index >= 0, property.length >= needed else {
            throw .valueTooShort(propertyOffset: property.offset, length: property.length, needed: needed)
        }
        return loadU32(property.valueOffset + index * 4)
    }

    /// The number read from `count` (1 or 2) cells starting at cell `index` (the high cell first).
    public func number(of property: FDTProperty, cellIndex index: Int, cellCount count: Int) throws(FDTReadError) -> UInt64 {
        var result: UInt64 = 0
        for cellNumber in 0..<count {
            result = (result << 32) | UInt64(try cell(of: property, at: index + cellNumber))
        }
        return result
    }

    /// Entry `index` of the node's `reg`, given its parent's #address-cells and #size-cells.
    public func reg(of node: FDTNode, index: Int, addressCells: Int = 2, sizeCells: Int = 2) throws(FDTReadError) -> (address: UInt64, size: UInt64)? {
        guard let reg = try property(of: node, named: "reg") else { return nil }
        let stride = addressCells + sizeCells
        guard (index + 1) * stride * 4 <= reg.length else { return nil }
        let address = try number(of: reg, cellIndex: index * stride, cellCount: addressCells)
        let size = try number(of: reg, cellIndex: index * stride + addressCells, cellCount: sizeCells)
        return (address, size)
    }

    /// The node's `#address-cells` / `#size-cells` (the cells its children's `reg` uses), with the
    /// Devicetree Specification §2.3.5 defaults 2 and 1 when absent.
    public func cellCounts(of node: FDTNode) throws(FDTReadError) -> (addressCells: Int, sizeCells: Int) {
        let address = try property(of: node, named: "#address-cells").map { (p) throws(FDTReadError) in Int(try cell(of: p, at: 0)) } ?? 2
        let size = try property(of: node, named: "#size-cells").map { (p) throws(FDTReadError) in Int(try cell(of: p, at: 0)) } ?? 1
        return (address, size)
    }

    // MARK: Internals

    private static let compatibleName: StaticString = "compatible"

    private func property(of node: FDTNode, matching wanted: StaticString) throws(FDTReadError) -> FDTProperty? {
        try property(of: node, matching: UnsafeRawBufferPointer(start: wanted.utf8Start, count: wanted.utf8CodeUnitCount))
    }

    private func property(of node: FDTNode, matching wanted: UnsafeRawBufferPointer) throws(FDTReadError) -> FDTProperty? {
        var current = try firstProperty(of: node)
        while let property = current {
            if try name(of: property).elementsEqual(wanted) { return property }
            current = try nextProperty(after: property)
        }
        return nil
    }

    private func child(of node: FDTNode, matching wanted: UnsafeRawBufferPointer) throws(FDTReadError) -> FDTNode? {
        let wantsUnitAddress = wanted.contains(UInt8(ascii: "@"))
        var current = try firstChild(of: node)
        while let child = current {
            let childName = try name(of: child)
            if childName.elementsEqual(wanted) { return child }
            if !wantsUnitAddress, let at = childName.firstIndex(of: UInt8(ascii: "@")),
                childName[0..<at].elementsEqual(wanted)
            {
                return child
            }
            current = try nextSibling(of: child)
        }
        return nil
    }

    /// Whether the NUL-separated string list `property` has an entry equal to `wanted`.
    private func stringList(_ property: FDTProperty, contains wanted: UnsafeRawBufferPointer) throws(FDTReadError) -> Bool {
        let value = value(of: property)
        var start = 0
        while start < value.count {
            var end = start
            while end < value.count && value[end] != 0 { end += 1 }
            if value[start..<end].elementsEqual(wanted) { return true }
            start = end + 1
        }
        return false
    }

    private func propertyIfPresent(at offset: Int) throws(FDTReadError) -> FDTProperty? {
        guard try token(at: offset) == FDTToken.property.rawValue else { return nil }
        guard offset + 12 <= structEnd else { throw .structureOverrun(offset: offset) }
        let length = Int(loadU32(offset + 4))
        let nameOffset = Int(loadU32(offset + 8))
        guard offset + 12 + length <= structEnd else { throw .structureOverrun(offset: offset) }
        return FDTProperty(offset: offset, valueOffset: offset + 12, length: length, nameOffset: nameOffset)
    }

    /// Offset just after the property whose FDT_PROP token is at `offset`.
    private func nextAfterProperty(at offset: Int) throws(FDTReadError) -> Int {
        guard offset + 12 <= structEnd else { throw .structureOverrun(offset: offset) }
        let next = (offset + 12 + Int(loadU32(offset + 4))).roundedUpToFour
        guard next <= structEnd else { throw .structureOverrun(offset: offset) }
        return next
    }

    /// Offset of the first token after the node's name and properties.
    private func afterProperties(of node: FDTNode) throws(FDTReadError) -> Int {
        var offset = try afterName(ofNodeAt: node.offset)
        while true {
            let token = try token(at: offset)
            if token == FDTToken.property.rawValue {
                offset = try nextAfterProperty(at: offset)
            } else if token == FDTToken.nop.rawValue {
                offset += 4
            } else {
                return offset
            }
        }
    }

    /// Offset just after the node's FDT_END_NODE.
    private func endOfNode(_ node: FDTNode) throws(FDTReadError) -> Int {
        var offset = try afterProperties(of: node)
        var depth = 1
        while true {
            let token = try token(at: offset)
            switch token {
            case FDTToken.beginNode.rawValue:
                depth += 1
                offset = try afterName(ofNodeAt: offset)
            case FDTToken.endNode.rawValue:
                depth -= 1
                offset += 4
                if depth == 0 { return offset }
            case FDTToken.property.rawValue:
                offset = try nextAfterProperty(at: offset)
            case FDTToken.nop.rawValue:
                offset += 4
            default:
                throw .badToken(offset: offset, token: token)
            }
        }
    }

    /// Offset of the first token after the name of the node whose FDT_BEGIN_NODE is at `offset`.
    private func afterName(ofNodeAt offset: Int) throws(FDTReadError) -> Int {
        (try endOfCString(from: offset + 4, limit: structEnd) + 1).roundedUpToFour
    }

    private func skipNops(_ start: Int) throws(FDTReadError) -> Int {
        var offset = start
        while offset < structEnd, try token(at: offset) == FDTToken.nop.rawValue { offset += 4 }
        return offset
    }

    private func token(at offset: Int) throws(FDTReadError) -> UInt32 {
        guard offset >= structStart, offset + 4 <= structEnd else { throw .structureOverrun(offset: offset) }
        return loadU32(offset)
    }

    /// Offset of the NUL ending the string at `start` (which must lie before `limit`).
    private func endOfCString(from start: Int, limit: Int) throws(FDTReadError) -> Int {
        var end = start
        while end < limit {
            if blob[end] == 0 { return end }
            end += 1
        }
        throw .structureOverrun(offset: start)
    }

    private func loadU32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: blob.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    private func loadU64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: blob.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension Int {
    /// The value rounded up to a multiple of 4 (structure-block alignment).
    fileprivate var roundedUpToFour: Int { (self + 3) & ~3 }
}

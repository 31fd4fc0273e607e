// Unsigned LEB128 varints and zigzag signed integers: the field encoding of every trace record.
// Plain Swift with no Foundation so the hypervisor's Embedded build compiles this very file.

/// The most bytes one varint can take (a full `UInt64` needs ten 7-bit groups).
public let maxVarintLength = 10

/// Writes LEB128 varints into a raw byte buffer.
public enum Varint {
    /// The number of bytes `value` takes when encoded.
    @inlinable @inline(__always)
    public static func encodedLength(_ value: UInt64) -> Int {
        // Each byte carries 7 bits; zero still takes one byte.
        let significantBits = 64 - (value | 1).leadingZeroBitCount
        return (significantBits + 6) / 7
    }

    /// Stores `value` at `pointer + offset` and returns the offset just past it.
    /// The caller guarantees `maxVarintLength` writable bytes.
    ///
    /// Values below 2^14 (almost every field and delta the hypervisor writes) take an unrolled
    /// path: one byte store, or one unaligned 16-bit store of both bytes; longer values loop.
    @inlinable @inline(__always)
    public static func store(_ value: UInt64, to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        if _fastPath(value < 0x80) {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: offset, as: UInt8.self)
            return offset &+ 1
        }
        if value < 0x4000 {
            // Low byte: bits 6:0 with the continuation bit; high byte: bits 13:7.
            let pair = UInt16(truncatingIfNeeded: (value & 0x7F) | 0x80 | ((value >> 7) << 8))
            pointer.storeBytes(of: pair.littleEndian, toByteOffset: offset, as: UInt16.self)
            return offset &+ 2
        }
        return storeLong(value, to: pointer, at: offset)
    }

    /// The general loop for values of 2^14 and above (three to ten bytes).
    @usableFromInline @inline(__always)
    static func storeLong(_ value: UInt64, to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        var remaining = value
        var cursor = offset
        while remaining >= 0x80 {
            pointer.storeBytes(of: UInt8(truncatingIfNeeded: remaining) | 0x80, toByteOffset: cursor, as: UInt8.self)
            remaining >>= 7
            cursor &+= 1
        }
        pointer.storeBytes(of: UInt8(truncatingIfNeeded: remaining), toByteOffset: cursor, as: UInt8.self)
        return cursor &+ 1
    }

    /// Reads a varint from `bytes` starting at `offset`, stopping at `end`.
    /// Returns nil when the varint runs past `end` or is longer than ten bytes / overflows 64 bits.
    @inlinable @inline(__always)
    public static func load(from bytes: UnsafeRawPointer, at offset: inout Int, end: Int) -> UInt64? {
        // Most fields (deltas, ids, small values) fit in one byte: decide those with one compare.
        if _fastPath(offset < end) {
            let first = bytes.load(fromByteOffset: offset, as: UInt8.self)
            if _fastPath(first < 0x80) {
                offset += 1
                return UInt64(first)
            }
            // Two bytes (most timestamp deltas between exits) stay inline too: the out-of-line call
            // below would make the decoder save and restore its live registers around it.
            if _fastPath(offset + 1 < end) {
                let second = bytes.load(fromByteOffset: offset + 1, as: UInt8.self)
                if second < 0x80 {
                    offset += 2
                    return UInt64(first & 0x7F) | UInt64(second) << 7
                }
            }
        }
        guard let (value, next) = loadMultibyte(from: bytes, at: offset, end: end) else { return nil }
        offset = next
        return value
    }

    /// The general case of `load`: a varint of two or more bytes (or one that overruns `end`), and
    /// the offset just past it. It takes and returns the offset by value, so the decoder's cursor
    /// never has its address taken and stays in a register across this out-of-line call.
    @inlinable
    static func loadMultibyte(from bytes: UnsafeRawPointer, at offset: Int, end: Int) -> (value: UInt64, next: Int)? {
        // Two to four bytes (timestamp deltas, ISS values, page offsets) with room to spare: no
        // per-byte bounds check.
        if _fastPath(end - offset >= 4) {
            let b0 = UInt64(bytes.load(fromByteOffset: offset, as: UInt8.self))
            let b1 = UInt64(bytes.load(fromByteOffset: offset + 1, as: UInt8.self))
            if b1 < 0x80 {
                return ((b0 & 0x7F) | b1 << 7, offset + 2)
            }
            let b2 = UInt64(bytes.load(fromByteOffset: offset + 2, as: UInt8.self))
            if b2 < 0x80 {
                return ((b0 & 0x7F) | (b1 & 0x7F) << 7 | b2 << 14, offset + 3)
            }
            let b3 = UInt64(bytes.load(fromByteOffset: offset + 3, as: UInt8.self))
            if b3 < 0x80 {
                return ((b0 & 0x7F) | (b1 & 0x7F) << 7 | (b2 & 0x7F) << 14 | b3 << 21, offset + 4)
            }
        }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var cursor = offset
        while cursor < end {
            let byte = bytes.load(fromByteOffset: cursor, as: UInt8.self)
            cursor += 1
            if shift == 63 && byte > 1 { return nil }  // would overflow 64 bits
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return (result, cursor) }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}

/// A 16-bit field's varint encoded once, for a field that is the same in every record a source
/// writes (the vCPU id of its exit records): one 32-bit store writes it, then the cursor advances
/// by `length`. The bytes above `length` are zero, so the store leaves the page's zeroed tail as
/// it was (the caller guarantees four writable bytes, well inside `maxRecordLength`).
public struct PreencodedVarint: Equatable, Sendable {
    /// The varint's bytes, little-endian, zero above `length`.
    public let bytes: UInt32
    /// 1 to 3.
    public let length: Int

    @inlinable
    public init(_ value: UInt16) {
        var encoded: UInt32 = 0
        var remaining = UInt32(value)
        var count = 0
        while remaining >= 0x80 {
            encoded |= ((remaining & 0x7F) | 0x80) << (8 * count)
            remaining >>= 7
            count += 1
        }
        bytes = encoded | (remaining << (8 * count))
        length = count + 1
    }

    /// Stores the varint at `pointer + offset` and returns the offset just past it.
    @inlinable @inline(__always)
    public func store(to pointer: UnsafeMutableRawPointer, at offset: Int) -> Int {
        pointer.storeBytes(of: bytes.littleEndian, toByteOffset: offset, as: UInt32.self)
        return offset &+ length
    }
}

/// Zigzag mapping so small negative numbers stay short as varints (0, -1, 1, -2 → 0, 1, 2, 3).
public enum ZigZag {
    @inlinable @inline(__always)
    public static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    @inlinable @inline(__always)
    public static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }
}

/// SMCCC function ids (SMC Calling Convention, DEN0028, §2.5) keep the owner in bits 31:24 and the
/// function number in bits 15:0, so as plain varints they always take five bytes. Rotating right by
/// 24 puts the owner byte low and the function number above it: PSCI_VERSION (0x8400_0000) becomes
/// 0x84 (two bytes). The mapping is a bijection on all 32-bit values.
public enum FunctionIDPacking {
    @inlinable @inline(__always)
    public static func pack(_ functionID: UInt32) -> UInt64 {
        UInt64((functionID >> 24) | (functionID << 8))
    }

    @inlinable @inline(__always)
    public static func unpack(_ packed: UInt64) -> UInt32 {
        let value = UInt32(truncatingIfNeeded: packed)
        return (value << 24) | (value >> 8)
    }
}

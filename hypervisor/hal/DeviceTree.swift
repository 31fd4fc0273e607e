/// What the hypervisor takes from QEMU's flattened device tree.
struct BootInformation {
  /// /chosen/bootargs as bytes (kept as bytes: String comparison would pull in the stdlib's
  /// Unicode tables, which are prebuilt with FP/SIMD instructions).
  var bootArguments: [UInt8] = []
  var memoryBase: UInt64 = 0
  var memorySize: UInt64 = 0
  /// Nodes `cpu@…` under /cpus: the physical CPUs QEMU created (`-smp`).
  var cpuCount = 0
}

/// Errors reading the DTB, naming the offset where reading stopped.
enum DeviceTreeError: Error {
  /// The header magic at the DTB address is not 0xd00dfeed.
  case badMagic(address: UInt64, found: UInt32)
  /// An unknown structure-block token at byte `offset` of the structure block.
  case badToken(offset: UInt32, token: UInt32)
}

/// A minimal reader for the flattened device tree (Devicetree Specification v0.4, chapter 5):
/// walks the structure block once and collects /chosen/bootargs and the first /memory node's
/// `reg` (QEMU virt uses #address-cells = #size-cells = 2 at the root).
struct DeviceTreeReader {
  let base: UInt64

  private func bigEndian32(_ offset: UInt64) -> UInt32 {
    let bytes = UnsafePointer<UInt8>(bitPattern: UInt(base + offset))!
    return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
  }

  private func bigEndian64(_ offset: UInt64) -> UInt64 {
    UInt64(bigEndian32(offset)) << 32 | UInt64(bigEndian32(offset + 4))
  }

  private func cString(_ offset: UInt64, maximumLength: UInt64) -> ([UInt8], length: UInt64) {
    let bytes = UnsafePointer<UInt8>(bitPattern: UInt(base + offset))!
    var length: UInt64 = 0
    while length < maximumLength && bytes[Int(length)] != 0 { length += 1 }
    return (Array(UnsafeBufferPointer(start: bytes, count: Int(length))), length)
  }

  private func startsWith(_ offset: UInt64, _ prefix: StaticString) -> Bool {
    let bytes = UnsafePointer<UInt8>(bitPattern: UInt(base + offset))!
    var matches = true
    prefix.withUTF8Buffer { expected in
      for index in 0..<expected.count where bytes[index] != expected[index] { matches = false }
    }
    return matches
  }

  var totalSize: UInt32 { bigEndian32(4) }

  func read() throws(DeviceTreeError) -> BootInformation {
    let magic = bigEndian32(0)
    guard magic == 0xD00D_FEED else { throw .badMagic(address: base, found: magic) }
    let structureOffset = UInt64(bigEndian32(8))
    let stringsOffset = UInt64(bigEndian32(12))
    let structureSize = UInt64(bigEndian32(36))
    var information = BootInformation()
    var cursor: UInt64 = 0
    var depth = 0
    var inChosen = false
    var inMemory = false
    var inCPUs = false
    while cursor < structureSize {
      let token = bigEndian32(structureOffset + cursor)
      cursor += 4
      switch token {
      case 1:  // FDT_BEGIN_NODE: name, NUL, padded to 4
        let nameOffset = structureOffset + cursor
        let (_, length) = cString(nameOffset, maximumLength: 256)
        if depth == 1 {
          inChosen = length == 6 && startsWith(nameOffset, "chosen")
          inMemory = startsWith(nameOffset, "memory") && information.memorySize == 0
          inCPUs = length == 4 && startsWith(nameOffset, "cpus")
        } else if depth == 2 && inCPUs && startsWith(nameOffset, "cpu@") {
          information.cpuCount += 1
        }
        depth += 1
        cursor += (length + 1 + 3) & ~3
      case 2:  // FDT_END_NODE
        depth -= 1
        if depth <= 1 { inChosen = false; inMemory = false; inCPUs = false }
      case 3:  // FDT_PROP: len, nameoff, value padded to 4
        let length = UInt64(bigEndian32(structureOffset + cursor))
        let nameOffset = UInt64(bigEndian32(structureOffset + cursor + 4))
        let valueOffset = structureOffset + cursor + 8
        if depth == 2 && inChosen && startsWith(stringsOffset + nameOffset, "bootargs\0") {
          information.bootArguments = cString(valueOffset, maximumLength: length).0
        }
        if depth == 2 && inMemory && startsWith(stringsOffset + nameOffset, "reg\0") && length >= 16 {
          information.memoryBase = bigEndian64(valueOffset)
          information.memorySize = bigEndian64(valueOffset + 8)
        }
        cursor += 8 + ((length + 3) & ~3)
      case 4:  // FDT_NOP
        continue
      case 9:  // FDT_END
        return information
      default:
        throw .badToken(offset: UInt32(cursor - 4), token: token)
      }
    }
    return information
  }
}

extension BootInformation {
  /// Where the hypervisor's own words end: the index of a ` -- ` word, or the count.
  private var separatorIndex: Int {
    var start = 0
    while start < bootArguments.count {
      var end = start
      while end < bootArguments.count && bootArguments[end] != 0x20 { end += 1 }
      if end - start == 2 && bootArguments[start] == 0x2D && bootArguments[start + 1] == 0x2D {
        return start
      }
      start = end + 1
    }
    return bootArguments.count
  }

  /// The words after `--`: passed on to the guest's command line (empty when there are none).
  var wordsAfterSeparator: [UInt8] {
    let separator = separatorIndex
    guard separator + 3 < bootArguments.count else { return [] }
    return Array(bootArguments[(separator + 3)...])
  }

  /// The value of `key=` in the space-separated bootargs before any `--`, or nil.
  func argument(_ key: StaticString) -> [UInt8]? {
    var start = 0
    let limit = separatorIndex
    while start < limit {
      var end = start
      while end < limit && bootArguments[end] != 0x20 { end += 1 }
      let keyLength = key.utf8CodeUnitCount
      if end - start > keyLength && bootArguments[start + keyLength] == UInt8(ascii: "=")
        && bytesEqual(bootArguments[start..<(start + keyLength)], key)
      {
        return Array(bootArguments[(start + keyLength + 1)..<end])
      }
      start = end + 1
    }
    return nil
  }
}

/// Byte-wise equality of `bytes` and `text`.
func bytesEqual(_ bytes: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
  guard bytes.count == text.utf8CodeUnitCount else { return false }
  var index = bytes.startIndex
  var equal = true
  text.withUTF8Buffer { buffer in
    for byte in buffer {
      if bytes[index] != byte { equal = false }
      index += 1
    }
  }
  return equal
}

/// Errors building stage-2 mappings, naming the address involved.
enum Stage2MappingError: Error {
  /// IPA, PA or size not 4 KiB aligned.
  case misaligned(ipa: UInt64, physicalAddress: UInt64, size: UInt64)
  /// The page allocator ran out while allocating a table for `ipa`.
  case outOfTablePages(ipa: UInt64)
  /// `ipa` is already mapped by a block or page.
  case alreadyMapped(ipa: UInt64)
  /// `ipa` beyond the VM's IPA space.
  case outsideIPASpace(ipa: UInt64)
}

/// A VM's stage-2 translation tables (4 KiB granule, walk starting at level 1, blocks where
/// alignment allows). Tables come from the hal's page allocator; EL2 is identity-mapped, so
/// a table's PA is usable as a pointer.
final class Stage2PageTable {
  let control: Stage2TranslationControl
  let rootTable: UInt64
  private(set) var tablePages = 1

  init(control: Stage2TranslationControl) throws(Stage2MappingError) {
    self.control = control
    guard let root = PageAllocator.allocateZeroedPage() else { throw .outOfTablePages(ipa: 0) }
    rootTable = root
  }

  private func entry(table: UInt64, index: Int) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(table))! + index
  }

  /// Maps [ipa, ipa + size) to [physicalAddress, ...), using 1 GiB / 2 MiB blocks wherever
  /// both addresses and the remaining size allow, 4 KiB pages elsewhere.
  func map(ipa: UInt64, physicalAddress: UInt64, size: UInt64, memoryType: Stage2MemoryType,
           permissions: Stage2Permissions) throws(Stage2MappingError) {
    guard (ipa | physicalAddress | size) & 0xFFF == 0 else {
      throw .misaligned(ipa: ipa, physicalAddress: physicalAddress, size: size)
    }
    var offset: UInt64 = 0
    while offset < size {
      let currentIPA = ipa + offset
      let currentPA = physicalAddress + offset
      guard currentIPA >> UInt64(control.ipaBits) == 0 else { throw .outsideIPASpace(ipa: currentIPA) }
      var level = 1
      while level < 3 {
        let blockSize = Stage2Descriptor.mappingSize(level: level)
        if (currentIPA | currentPA) & (blockSize - 1) == 0 && size - offset >= blockSize { break }
        level += 1
      }
      try install(ipa: currentIPA, level: level, descriptor: .leaf(
        level: level, outputAddress: currentPA, memoryType: memoryType, permissions: permissions))
      offset += Stage2Descriptor.mappingSize(level: level)
    }
  }

  private func install(ipa: UInt64, level targetLevel: Int, descriptor: Stage2Descriptor)
    throws(Stage2MappingError)
  {
    var table = rootTable
    var level = 1
    while level < targetLevel {
      let slot = entry(table: table, index: stage2TableIndex(ipa: ipa, level: level))
      let existing = Stage2Descriptor(rawValue: slot.pointee)
      if !existing.isValid {
        guard let page = PageAllocator.allocateZeroedPage() else { throw .outOfTablePages(ipa: ipa) }
        tablePages += 1
        slot.pointee = Stage2Descriptor.table(at: page).rawValue
        table = page
      } else if existing.isTableOrPage {
        table = existing.outputAddress
      } else {
        throw .alreadyMapped(ipa: ipa)
      }
      level += 1
    }
    let slot = entry(table: table, index: stage2TableIndex(ipa: ipa, level: level))
    guard !Stage2Descriptor(rawValue: slot.pointee).isValid else { throw .alreadyMapped(ipa: ipa) }
    slot.pointee = descriptor.rawValue
  }

  /// Walks the tables for `ipa`; returns the leaf descriptor and its level, if mapped.
  func translate(ipa: UInt64) -> (descriptor: Stage2Descriptor, level: Int)? {
    var table = rootTable
    for level in 1...3 {
      let descriptor = Stage2Descriptor(rawValue: entry(table: table, index: stage2TableIndex(ipa: ipa, level: level)).pointee)
      guard descriptor.isValid else { return nil }
      if level == 3 || !descriptor.isTableOrPage { return (descriptor, level) }
      table = descriptor.outputAddress
    }
    return nil
  }
}

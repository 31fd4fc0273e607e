import CHAL

/// Physical page allocator over [__page_pool_start, __page_pool_end): a free list of 4 KiB
/// pages threaded through the free pages themselves, plus a bump pointer for pages never
/// handed out yet. EL2 runs identity-mapped, so a page's PA is also its EL2 VA.
/// Single-CPU for now; SMP (issue 6) needs a spinlock around `allocate`/`free`.
enum PageAllocator {
  static let pageSize: UInt64 = 4096
  private static var nextUnused: UInt64 = 0
  private static var end: UInt64 = 0
  private static var freeList: UInt64 = 0
  private(set) static var pagesInUse: Int = 0

  static func initialize() {
    nextUnused = hal_page_pool_start()
    end = hal_page_pool_end()
  }

  static var capacityInPages: Int { Int((end - hal_page_pool_start()) / pageSize) }

  /// Returns the physical address of a zeroed page, or nil when the pool is exhausted.
  static func allocateZeroedPage() -> UInt64? {
    var page: UInt64
    if freeList != 0 {
      page = freeList
      freeList = UnsafePointer<UInt64>(bitPattern: UInt(page))!.pointee
    } else if nextUnused + pageSize <= end {
      page = nextUnused
      nextUnused += pageSize
    } else {
      return nil
    }
    let words = UnsafeMutablePointer<UInt64>(bitPattern: UInt(page))!
    for index in 0..<Int(pageSize / 8) { words[index] = 0 }
    pagesInUse += 1
    return page
  }

  static func free(page: UInt64) {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(page))!.pointee = freeList
    freeList = page
    pagesInUse -= 1
  }
}

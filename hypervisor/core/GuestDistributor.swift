/// The guest's view of a GICv2 distributor (ARM IHI 0048B, 4.3), emulated through stage-2
/// faults on the guest's GICD page. Interim model for one vCPU: SGI/PPI banking and SGIs to
/// other vCPUs come with SMP (issue 6) and the fuller distributor model being written in
/// core/model. Interrupts the VM owns physically (timers, UART) are enabled/disabled in the
/// physical distributor when the guest enables/disables them here.
final class GuestDistributor {
  static let interruptCount = 128
  private(set) var enabled = false
  private var enableBits = [UInt32](repeating: 0, count: interruptCount / 32)
  private var groupBits = [UInt32](repeating: 0, count: interruptCount / 32)
  private var latchedPending = [UInt32](repeating: 0, count: interruptCount / 32)
  private var priorities = [UInt8](repeating: 0, count: interruptCount)
  private var targets = [UInt8](repeating: 1, count: interruptCount)
  private var configuration = [UInt32](repeating: 0, count: interruptCount / 16)
  /// Interrupts backed by a physical interrupt of the same number.
  let passthrough: [UInt32]

  init(passthrough: [UInt32]) { self.passthrough = passthrough }

  func isEnabled(_ interrupt: UInt32) -> Bool {
    enabled && Int(interrupt) < GuestDistributor.interruptCount
      && enableBits[Int(interrupt / 32)] & (1 << (interrupt % 32)) != 0
  }

  func priority(_ interrupt: UInt32) -> UInt8 {
    Int(interrupt) < GuestDistributor.interruptCount ? priorities[Int(interrupt)] : 0xA0
  }

  /// A pass-through interrupt fired while the guest had it disabled: remember it.
  func latch(_ interrupt: UInt32) {
    latchedPending[Int(interrupt / 32)] |= 1 << (interrupt % 32)
  }

  func read(offset: UInt64, size: Int, vcpu: VCpu) -> DeviceAccessResult {
    let word = Int((offset & 0x7F) / 4)
    switch offset {
    case 0x000: return .completed(enabled ? 1 : 0)  // GICD_CTLR
    case 0x004:  // GICD_TYPER: ITLinesNumber, CPUNumber = vCPUs - 1
      return .completed(UInt64(GuestDistributor.interruptCount / 32 - 1)
        | UInt64(vcpu.vm.vcpus.count - 1) << 5)
    case 0x008: return .completed(0x0200_143B)  // GICD_IIDR: ARM implementer
    case 0x080..<0x080 + 16: return .completed(UInt64(groupBits[word]))
    case 0x100..<0x100 + 16, 0x180..<0x180 + 16: return .completed(UInt64(enableBits[word]))
    case 0x200..<0x300: return .completed(0)  // pending / clear-pending: pending lives in LRs
    case 0x300..<0x400: return .completed(0)  // active
    case 0x400..<0x400 + 128: return .completed(bytes(priorities, Int(offset - 0x400), size))
    case 0x800..<0x800 + 128:
      return offset < 0x820 ? .completed(0x0101_0101 & (size == 4 ? ~0 : 0xFF))
        : .completed(bytes(targets, Int(offset - 0x800), size))
    case 0xC00..<0xC00 + 32: return .completed(UInt64(configuration[Int((offset - 0xC00) / 4)]))
    case 0xFE8: return .completed(0x2B)  // GICD_PIDR2: ArchRev = 2 (GICv2)
    case 0xF00..<0x1000: return .completed(0)  // SGIR and ID registers: RAZ
    default: return .completed(0)  // reserved: RAZ/WI (IHI 0048B 4.1.4)
    }
  }

  func write(offset: UInt64, size: Int, value: UInt64, vcpu: VCpu) -> DeviceAccessResult {
    let word = Int((offset & 0x7F) / 4)
    let bits = UInt32(truncatingIfNeeded: value)
    switch offset {
    case 0x000: enabled = value & 1 == 1
    case 0x080..<0x080 + 16: groupBits[word] = bits
    case 0x100..<0x100 + 16:  // ISENABLER
      enableBits[word] |= bits
      forEachPassthrough(in: word, bits: bits) { interrupt in
        GICDistributor.enable(interrupt)
        if latchedPending[word] & (1 << (interrupt % 32)) != 0 {
          latchedPending[word] &= ~(1 << (interrupt % 32))
        }
      }
    case 0x180..<0x180 + 16:  // ICENABLER
      enableBits[word] &= ~bits
      forEachPassthrough(in: word, bits: bits) { GICDistributor.disable($0) }
    case 0x200..<0x400: break  // pending/active set/clear: not modelled (WI)
    case 0x400..<0x400 + 128: setBytes(&priorities, Int(offset - 0x400), size, value)
    case 0x800..<0x800 + 128: if offset >= 0x820 { setBytes(&targets, Int(offset - 0x800), size, value) }
    case 0xC00..<0xC00 + 32: configuration[Int((offset - 0xC00) / 4)] = bits
    case 0xF00: break  // GICD_SGIR: one vCPU, nothing to signal yet
    default: break
    }
    return .completed(0)
  }

  private func forEachPassthrough(in word: Int, bits: UInt32, _ body: (UInt32) -> Void) {
    for interrupt in passthrough where Int(interrupt / 32) == word && bits & (1 << (interrupt % 32)) != 0 {
      body(interrupt)
    }
  }

  private func bytes(_ array: [UInt8], _ start: Int, _ size: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in 0..<size where start + index < array.count {
      value |= UInt64(array[start + index]) << UInt64(8 * index)
    }
    return value
  }

  private func setBytes(_ array: inout [UInt8], _ start: Int, _ size: Int, _ value: UInt64) {
    for index in 0..<size where start + index < array.count {
      array[start + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index))
    }
  }
}

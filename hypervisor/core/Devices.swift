/// The result of an emulated read or write: a value, or "this register does not exist" (the
/// guest then gets a synchronous external abort, like a bus error on real hardware).
enum DeviceAccessResult: Equatable {
  case completed(UInt64)
  case unsupported
}

/// The device models a VM can own. An enum rather than a protocol existential: Embedded
/// Swift has no existentials, and one `switch` keeps MMIO dispatch static.
enum EmulatedDevice {
  case distributor(VirtualGIC)
  case probeTestDevice(ProbeTestDevice)

  func access(_ access: MMIOAccess, offset: UInt64, value: UInt64, vcpu: VCpu) -> DeviceAccessResult {
    switch self {
    case .distributor(let gic):
      gic.access(access, offset: offset, value: value, vcpu: vcpu)
    case .probeTestDevice(let device):
      access.isWrite
        ? device.write(offset: offset, size: access.sizeInBytes, value: value)
        : device.read(offset: offset, size: access.sizeInBytes)
    }
  }
}

/// An IPA window owned by one emulated device.
struct DeviceWindow {
  let base: UInt64
  let size: UInt64
  let device: EmulatedDevice

  func contains(_ ipa: UInt64) -> Bool { ipa >= base && ipa - base < size }
}

/// A small register file the probe guest exercises (the "emulated device" of the probe):
///   0x00 ID (RO, 'HVTR'), 0x08 SCRATCH (RW, any width at its 8 byte lanes),
///   0x10 READS (RO: reads so far), 0x18 WRITES (RO: writes so far),
///   0x20 NEGATIVE (RO: 0x8080_8080_8080_8080, for sign-extending loads).
final class ProbeTestDevice {
  static let identification: UInt64 = 0x4856_5452
  static let negativePattern: UInt64 = 0x8080_8080_8080_8080
  private var scratch: UInt64 = 0
  private(set) var reads: UInt64 = 0
  private(set) var writes: UInt64 = 0

  func read(offset: UInt64, size: Int) -> DeviceAccessResult {
    let register = offset & ~7
    let lane = (offset & 7) * 8
    guard Int(offset & 7) + size <= 8 else { return .unsupported }
    let value: UInt64
    switch register {
    case 0x00: value = ProbeTestDevice.identification
    case 0x08: value = scratch
    case 0x10: value = reads
    case 0x18: value = writes
    case 0x20: value = ProbeTestDevice.negativePattern
    default: return .unsupported
    }
    reads += 1
    return .completed(value >> lane)
  }

  func write(offset: UInt64, size: Int, value: UInt64) -> DeviceAccessResult {
    guard offset & ~7 == 0x08, Int(offset & 7) + size <= 8 else { return .unsupported }
    let lane = (offset & 7) * 8
    let mask: UInt64 = (size >= 8 ? ~0 : (1 << UInt64(size * 8)) - 1) << lane
    scratch = (scratch & ~mask) | ((value << lane) & mask)
    writes += 1
    return .completed(0)
  }
}

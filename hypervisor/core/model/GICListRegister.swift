// GICv2 list register encoding (ARM IHI 0048B, 5.3.11 "List Registers, GICH_LRn"). Pure.

/// State field, bits [29:28].
enum ListRegisterState: UInt32, Equatable {
  case invalid = 0
  case pending = 1
  case active = 2
  case pendingAndActive = 3
}

/// One GICH_LRn value.
struct GICListRegister: Equatable {
  let rawValue: UInt32

  init(rawValue: UInt32) { self.rawValue = rawValue }

  /// A pending virtual interrupt. With `hardwareInterrupt` set (HW, bit 31) the guest's EOI
  /// of the virtual interrupt also deactivates physical interrupt `hardwareInterrupt`
  /// (PhysicalID, bits [19:10]); otherwise bit 19 (EOI) asks for a maintenance interrupt on EOI,
  /// and for an SGI bits [12:10] (CPUID) name the vCPU that sent it (what the guest's GICC_IAR
  /// returns in its CPUID field).
  init(virtualInterrupt: UInt32, priority: UInt8, hardwareInterrupt: UInt32? = nil,
       maintenanceOnEOI: Bool = false, group1: Bool = false, sourceCPU: UInt8 = 0) {
    var value = virtualInterrupt & 0x3FF
    value |= UInt32(priority >> 3) << 23  // 5 priority bits in [27:23]
    value |= ListRegisterState.pending.rawValue << 28
    if group1 { value |= 1 << 30 }
    if let hardwareInterrupt {
      value |= 1 << 31 | (hardwareInterrupt & 0x3FF) << 10
    } else {
      if maintenanceOnEOI { value |= 1 << 19 }
      if virtualInterrupt < 16 { value |= UInt32(sourceCPU & 7) << 10 }
    }
    rawValue = value
  }

  var virtualInterrupt: UInt32 { rawValue & 0x3FF }
  var state: ListRegisterState { ListRegisterState(rawValue: (rawValue >> 28) & 3)! }
  var isHardware: Bool { rawValue & (1 << 31) != 0 }
  var physicalInterrupt: UInt32? { isHardware ? (rawValue >> 10) & 0x3FF : nil }
  var priority: UInt8 { UInt8((rawValue >> 23) & 0x1F) << 3 }
  /// The sending vCPU of a software-generated interrupt (CPUID, bits [12:10], HW = 0).
  var sourceCPU: UInt8 { isHardware ? 0 : UInt8((rawValue >> 10) & 7) }
}

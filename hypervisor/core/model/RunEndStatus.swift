// How a run ended, as the hypervisor records it for hvtrace: one small block at a fixed physical
// address in the hypervisor's own part of machine RAM (outside every guest's stage-2 map), written
// before the hypervisor ends QEMU. QEMU exits with status 0 on every PSCI SYSTEM_OFF, so this block
// is how `hvtrace run` / `record` tell a guest that reached its own end from a boot the hypervisor
// refused or a hypervisor panic, and exit non-zero for those.

/// The end-status block: 32 bytes, little-endian, at `physicalAddress` (file offset
/// `ramFileOffset` of the shared RAM file).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0x00 | 8 | magic "HVSTATUS" |
/// | 0x08 | 4 | state (`RunEndState`) |
/// | 0x0C | 4 | reserved, 0 |
/// | 0x10 | 8 | detail: ESR_EL2 of a panic, or the error's code |
/// | 0x18 | 8 | address: FAR_EL2 of a panic, or the value that was refused |
public enum RunEndStatus {
  /// Between the page pool's end (0x4700_0000, hal/linker.ld) and the trace region (0x4800_0000).
  public static let physicalAddress: UInt64 = 0x4700_0000
  /// Offset inside the shared RAM file (machine RAM starts at PA 0x4000_0000).
  public static let ramFileOffset: UInt64 = physicalAddress - GuestMemoryLayout.machineRAMBase
  public static let size = 32
  /// "HVSTATUS" read as a little-endian UInt64.
  public static let magic: UInt64 = 0x5355_5441_5453_5648
  public static let magicOffset = 0
  public static let stateOffset = 8
  public static let detailOffset = 16
  public static let addressOffset = 24
}

/// What the end-status block says.
public enum RunEndState: UInt32, Equatable, Sendable {
  /// The hypervisor started and has not ended (if QEMU is gone, it ended from outside: killed, crashed).
  case running = 1
  /// The guest called PSCI SYSTEM_OFF: it reached its own end.
  case guestPoweredOff = 2
  /// The guest called PSCI SYSTEM_RESET (Linux does after a panic); with -no-reboot the run ends.
  case guestReset = 3
  /// The hypervisor refused the configuration (machine shape, boot arguments, guest image) and said
  /// why on the console.
  case configurationRejected = 4
  /// An exception at EL2: a hypervisor bug (register dump on the console).
  case hypervisorPanic = 5
  /// The guest asked for the debug panic (flight-recorder tests).
  case guestRequestedPanic = 6
  /// The guest took an exception the hypervisor does not handle (FIQ, SError, AArch32).
  case guestUnexpectedException = 7

  /// Whether the guest reached its own end.
  public var isGuestEnd: Bool { self == .guestPoweredOff }

  #if !hasFeature(Embedded)
  /// A short phrase for hvtrace's last line.
  public var summary: String {
    switch self {
    case .running: return "QEMU ended while the hypervisor was running (killed or crashed)"
    case .guestPoweredOff: return "guest powered off"
    case .guestReset: return "guest requested SYSTEM_RESET (a Linux panic does), so the run ended before the guest's own end"
    case .configurationRejected: return "the hypervisor refused the configuration (its message is above)"
    case .hypervisorPanic: return "the hypervisor panicked (register dump above)"
    case .guestRequestedPanic: return "the guest requested the debug panic; the hypervisor stopped"
    case .guestUnexpectedException: return "the guest took an exception the hypervisor does not handle (above)"
    }
  }
  #endif
}

/// The run's end status for hvtrace (core/model/RunEndStatus.swift): `markRunning` at boot, then
/// exactly one `end` that records how the run ended and ends QEMU with PSCI SYSTEM_OFF (QEMU exits
/// 0 either way; the block says whether the guest reached its own end).
enum RunEnd {
  private static func store(_ offset: Int, _ value: UInt64) {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(RunEndStatus.physicalAddress) + UInt(offset))!.pointee = value
  }

  private static func record(_ state: RunEndState, detail: UInt64, address: UInt64) {
    store(RunEndStatus.stateOffset, UInt64(state.rawValue))
    store(RunEndStatus.detailOffset, detail)
    store(RunEndStatus.addressOffset, address)
    store(RunEndStatus.magicOffset, RunEndStatus.magic)
    // hvtrace reads the block through the RAM file: make it reach memory before QEMU ends.
    CPU.cleanToPointOfCoherency(address: RunEndStatus.physicalAddress, size: UInt64(RunEndStatus.size))
  }

  /// At boot, before anything can fail: the hypervisor started.
  static func markRunning() { record(.running, detail: 0, address: 0) }

  /// Records `state` and powers the machine off (SYSTEM_RESET for a guest reset, which QEMU's
  /// -no-reboot also turns into its exit). Does not return.
  static func end(_ state: RunEndState, detail: UInt64 = 0, address: UInt64 = 0) -> Never {
    record(state, detail: detail, address: address)
    if state == .guestReset { Firmware.systemReset() }
    Firmware.systemOff()
  }
}

import CHAL
import TraceFormat

/// The ring producer the hypervisor runs, one per physical CPU (TraceFormat's `RingProducer`, the
/// same code the host's synthetic writer runs).
typealias TraceProducer = RingProducer<HALTracePlatform>

/// Trace settings from the boot arguments:
///   `trace=on|off|overwrite|stop`  start on (default) / off; ring mode overwrite or stop-when-full
///   `trace_mode=overwrite|stop-when-full`  the ring mode (what `hvtrace record --mode` passes)
///   `trace_pages=N`  pages per CPU ring (default: as many as fit the 32 MiB region, at most 1024)
struct TraceSettings {
  var startsEnabled = true
  var mode = RingMode.stopWhenFull
  var pagesPerCPU: UInt32? = nil

  init(_ boot: BootInformation) {
    if let value = boot.argument("trace") {
      if bytesEqual(value[...], "off") { startsEnabled = false }
      else if bytesEqual(value[...], "overwrite") { mode = .overwrite }
      else if bytesEqual(value[...], "stop") || bytesEqual(value[...], "stop-when-full") { mode = .stopWhenFull }
    }
    if let value = boot.argument("trace_mode") {
      mode = bytesEqual(value[...], "overwrite") ? .overwrite : .stopWhenFull
    }
    if let value = boot.argument("trace_pages"), let pages = parseUnsigned(value), pages >= 2, pages <= 1 << 20 {
      pagesPerCPU = UInt32(pages)
    }
  }
}

/// Parses a decimal or 0x-prefixed hexadecimal number from boot-argument bytes.
func parseUnsigned(_ digits: [UInt8]) -> UInt64? {
  var value: UInt64 = 0
  var index = 0
  var radix: UInt64 = 10
  if digits.count > 2 && digits[0] == UInt8(ascii: "0") && (digits[1] | 0x20) == UInt8(ascii: "x") {
    radix = 16
    index = 2
  }
  guard index < digits.count else { return nil }
  while index < digits.count {
    let byte = digits[index] | (radix == 16 ? 0x20 : 0)
    let digit: UInt64
    if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { digit = UInt64(byte - UInt8(ascii: "0")) }
    else if radix == 16 && byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f") { digit = UInt64(byte - UInt8(ascii: "a") + 10) }
    else { return nil }
    let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
    guard !overflow else { return nil }
    value = shifted &+ digit
    index += 1
  }
  return value
}

/// The trace region and its per-CPU producers. The region lies at `TraceRegion.physicalBase`,
/// outside every guest's stage-2 map; the EL2 stage-1 identity map covers it with its 1 GiB
/// normal, write-back, inner-shareable block for RAM (boot.S), which is exactly the memory
/// type the host consumer (another inner-shareable observer through QEMU's shared RAM file)
/// needs. Producers live in hypervisor memory, never in the region, so a guest or a corrupt
/// region cannot redirect the producer's writes.
enum Tracing {
  /// One producer per physical CPU, allocated at boot (nil before `initialize`).
  nonisolated(unsafe) static var producers: UnsafeMutablePointer<TraceProducer>? = nil
  nonisolated(unsafe) static var cpuCount = 0
  /// Whether tracing is switched on (every CPU's `PerCPU.traceProducer` follows it).
  nonisolated(unsafe) static var enabled = false
  nonisolated(unsafe) static var header: RegionHeader? = nil

  static var region: UnsafeMutableRawPointer {
    UnsafeMutableRawPointer(bitPattern: UInt(TraceRegion.physicalBase))!
  }

  /// Pages per CPU that fit the region after the header page (capped at the format's default).
  static func defaultPagesPerCPU(cpuCount: Int) -> UInt32 {
    let available = (TraceRegion.maximumSize - UInt64(RegionHeader.size)) / UInt64(TraceRegion.defaultPageSize)
    return UInt32(min(available / UInt64(max(cpuCount, 1)), UInt64(TraceRegion.defaultPagesPerCPU)))
  }

  /// The build id in the region header: a hash of the hypervisor image's bytes (text and
  /// read-only data), so two recordings can tell whether they ran the same hypervisor.
  static func buildID() -> (UInt64, UInt64) {
    var high: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a 64 offset basis
    var low: UInt64 = 0x8422_2325_CBF2_9CE4
    let start = hal_image_start()
    let end = hal_image_start() + 256 * 1024  // text + rodata fit in the first 256 KiB
    var address = start
    while address < end && address < hal_image_end() {
      let word = UnsafePointer<UInt64>(bitPattern: UInt(address))!.pointee
      high = (high ^ word) &* 0x0000_0100_0000_01B3
      low = (low ^ (word >> 7)) &* 0x0000_0100_0000_01B3
      address += 8
    }
    return (high, low)
  }

  /// Sets up the region header and every CPU's producer, selects the trace clock on this CPU
  /// and switches tracing on unless the boot arguments said `trace=off`.
  static func initialize(_ settings: TraceSettings, cpuCount: Int) {
    #if !HVTRACE_DISABLED
    let cpus = max(1, min(cpuCount, Int(HAL_MAX_CPUS)))
    let cycles = TraceClock.usesCycleCounter
    if cycles && !TraceClock.cycleCounterImplemented {
      Console.write("hv: tracing off: built for PMCCNTR_EL0 (TRACE_CLOCK=cycles) but this CPU has no PMUv3\r\n")
      return
    }
    TraceClock.select()
    var pages = settings.pagesPerCPU ?? defaultPagesPerCPU(cpuCount: cpus)
    pages = min(pages, defaultPagesPerCPU(cpuCount: cpus))
    let (high, low) = buildID()
    var layout = RegionHeader(clockFrequency: TraceClock.frequency, clockSource: cycles ? .cycleCounter : .genericCounter,
                              mode: settings.mode, cpuCount: UInt16(cpus), pageSize: TraceRegion.defaultPageSize,
                              pagesPerCPU: pages, counterFrequency: read_cntfrq_el0(), buildIDHigh: high, buildIDLow: low)
    layout.control = settings.startsEnabled ? 1 : 0
    // Ring states zeroed, every field stored, then (after a barrier) the magic the host waits for.
    publishTraceRegion(layout, at: region, platform: HALTracePlatform.self)
    header = layout
    let list = UnsafeMutablePointer<TraceProducer>.allocate(capacity: cpus)
    for cpu in 0..<cpus {
      (list + cpu).initialize(to: TraceProducer(region: region, layout: layout, cpu: cpu))
    }
    producers = list
    self.cpuCount = cpus
    setEnabled(settings.startsEnabled)
    Console.write("hv: trace region "); Console.write(hex: TraceRegion.physicalBase)
    Console.write(" cpus="); Console.write(decimal: UInt64(cpus))
    Console.write(" pages/cpu="); Console.write(decimal: UInt64(pages))
    Console.write(" clock="); Console.write(layout.clockSource.name)
    Console.write(" mode="); Console.write(layout.mode.name)
    Console.write(settings.startsEnabled ? " on\r\n" : " off\r\n")
    #else
    Console.write("hv: tracing compiled out (HVTRACE_DISABLED)\r\n")
    #endif
  }

  /// A secondary CPU selects the same trace clock as CPU 0 before it runs a guest.
  static func initializeSecondaryCPU() {
    #if !HVTRACE_DISABLED
    guard producers != nil else { return }
    TraceClock.select()
    #endif
  }

  /// Switches tracing on or off on every CPU; returns the previous state. A CPU in the middle
  /// of an exit sees the change at its next hook.
  @discardableResult
  static func setEnabled(_ on: Bool) -> Bool {
    let previous = enabled
    #if !HVTRACE_DISABLED
    guard let list = producers else { return false }
    enabled = on
    withUnsafeMutablePointer(to: &hal_per_cpu) { tuple in
      tuple.withMemoryRebound(to: PerCPU.self, capacity: Int(HAL_MAX_CPUS)) { perCPU in
        for cpu in 0..<cpuCount {
          perCPU[cpu].traceProducer = on ? UnsafeMutableRawPointer(list + cpu) : nil
        }
      }
    }
    var control = UInt32(littleEndian: region.load(fromByteOffset: RegionHeaderLayout.control, as: UInt32.self))
    control = on ? control | 1 : control & ~1
    region.storeBytes(of: control.littleEndian, toByteOffset: RegionHeaderLayout.control, as: UInt32.self)
    hal_dmb_ishst()
    #endif
    return previous
  }

  /// Commits this CPU's open page so the host sees it now (flush hypercall, power-off, panic).
  static func flushCurrentCPU() {
    #if !HVTRACE_DISABLED
    guard let list = producers else { return }
    let cpu = Int(PerCPUData.current.pointee.cpuID)
    guard cpu < cpuCount else { return }
    list[cpu].flush()
    #endif
  }

  /// Commits every CPU's open page. Only safe when the other CPUs are not writing (power-off
  /// after the guest stopped, or a panic where they are parked); used on those paths only.
  static func flushAllCPUs() {
    #if !HVTRACE_DISABLED
    guard let list = producers else { return }
    for cpu in 0..<cpuCount { list[cpu].flush() }
    #endif
  }

  /// This CPU's produced/lost counts, for the power-off summary line.
  static func printSummary() {
    #if !HVTRACE_DISABLED
    guard let list = producers else { return }
    for cpu in 0..<cpuCount {
      Console.write("hv: trace cpu "); Console.write(decimal: UInt64(cpu))
      Console.write(" produced="); Console.write(decimal: list[cpu].producedEvents)
      Console.write(" lost="); Console.write(decimal: list[cpu].lostEvents)
      Console.write(" pages="); Console.write(decimal: list[cpu].sequence); Console.write("\r\n")
    }
    #endif
  }
}

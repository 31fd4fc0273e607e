import CProbe

// The probe's hostile mode (issue 8 §3): from a fixed-seed PRNG, `operations` random operations
// a sane OS never does — HVC/SMC with random function ids, immediates and arguments, PSCI calls
// with bad arguments, loads/stores of every shape to every kind of IPA, system-register and
// system instructions that trap or are UNDEFINED. Each operation is one instruction written into
// `hostile_slot` (start.S) and run with x0–x7 from an array, so a fault in it is stepped over by
// the synchronous handler. Where the architecture or our protocol fixes the outcome the result is
// checked ("unexpected" counts violations); the rest is counted. At the end the guest checks that
// its own memory is intact and that the hypervisor still answers, prints one line, powers off.

/// Operation classes, in the order the summary line prints them.
enum HostileClass: Int {
  case hvc, smc, psci, memory, sysreg, misc
  static let count = 6
}

/// The guest map the hostile mode aims at (guest IPAs; MMU off, so VA = IPA).
enum HostileMap {
  /// Random RAM loads/stores land here: above the image (0x4008_0000, < 1 MiB), below the guarded area.
  static let scratchBase: UInt64 = 0x4100_0000
  static let scratchSize: UInt64 = 48 << 20
  /// Never targeted: filled from the seed first, verified at the end.
  static let guardedBase: UInt64 = 0x4400_0000
  static let guardedSize: UInt64 = 8 << 20
  /// Stage-2 holes (no memory, no device), [start, end) — includes the trace region's PA
  /// (0x4800_0000–0x4A00_0000) and the guest's own backing PAs (0x5000_0000…) used as IPAs.
  static let holes: [(UInt64, UInt64)] = [
    (0x0000_0000, 0x0800_0000), (0x0800_1000, 0x0801_0000), (0x0801_2000, 0x0900_0000),
    (0x0900_1000, 0x0B00_0000), (0x0B00_1000, 0x4000_0000), (0x4800_0000, 0x1_0000_0000),
  ]
  static let traceRegion: UInt64 = 0x4800_0000
  static let traceRegionSize: UInt64 = 32 << 20
  /// The hypervisor image's PA, moved above the 32-bit IPA space (PA 0x4020_0000 itself is
  /// this guest's RAM at IPA 0x4020_0000).
  static let hypervisorImageAlias: UInt64 = 0x1_4020_0000
}

/// xorshift64*: small, fast, and the same sequence for the same seed on every run.
struct HostileRandom {
  private var state: UInt64
  init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
  mutating func next() -> UInt64 {
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27
    return state &* 0x2545_F491_4F6C_DD1D
  }
  mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
}

/// What the run counted.
struct HostileTally {
  var perClass = [UInt64](repeating: 0, count: HostileClass.count)
  var aborts: UInt64 = 0
  var undefined: UInt64 = 0
  var errorsReturned: UInt64 = 0
  var unexpected: UInt64 = 0
}

/// The outcome a checked operation must have.
enum HostileExpectation {
  case anything
  case abort
  case noFault
  case undefined
}

/// A load/store/cache instruction with Rt = x0, Rn = x1, Rt2 = x2, Rs = w4 (encodings checked
/// with llvm-objdump; Arm ARM C6.2).
struct MemoryTemplate {
  enum Shape { case single, pair, writeback, preIndexed, exclusive, hint }
  let instruction: UInt32
  /// Bytes per element: the address is aligned to this for aligned accesses.
  let alignment: UInt64
  let isStore: Bool
  let shape: Shape

  static let all: [MemoryTemplate] = [
    MemoryTemplate(instruction: 0x3940_0020, alignment: 1, isStore: false, shape: .single),  // ldrb w0
    MemoryTemplate(instruction: 0x7940_0020, alignment: 2, isStore: false, shape: .single),  // ldrh w0
    MemoryTemplate(instruction: 0xB940_0020, alignment: 4, isStore: false, shape: .single),  // ldr w0
    MemoryTemplate(instruction: 0xF940_0020, alignment: 8, isStore: false, shape: .single),  // ldr x0
    MemoryTemplate(instruction: 0x3980_0020, alignment: 1, isStore: false, shape: .single),  // ldrsb x0
    MemoryTemplate(instruction: 0x7980_0020, alignment: 2, isStore: false, shape: .single),  // ldrsh x0
    MemoryTemplate(instruction: 0xB980_0020, alignment: 4, isStore: false, shape: .single),  // ldrsw x0
    MemoryTemplate(instruction: 0xF940_003F, alignment: 8, isStore: false, shape: .single),  // ldr xzr
    MemoryTemplate(instruction: 0xC8DF_FC20, alignment: 8, isStore: false, shape: .single),  // ldar x0
    MemoryTemplate(instruction: 0x3900_0020, alignment: 1, isStore: true, shape: .single),  // strb w0
    MemoryTemplate(instruction: 0x7900_0020, alignment: 2, isStore: true, shape: .single),  // strh w0
    MemoryTemplate(instruction: 0xB900_0020, alignment: 4, isStore: true, shape: .single),  // str w0
    MemoryTemplate(instruction: 0xF900_0020, alignment: 8, isStore: true, shape: .single),  // str x0
    MemoryTemplate(instruction: 0xF900_003F, alignment: 8, isStore: true, shape: .single),  // str xzr
    MemoryTemplate(instruction: 0xC89F_FC20, alignment: 8, isStore: true, shape: .single),  // stlr x0
    MemoryTemplate(instruction: 0xA940_0820, alignment: 8, isStore: false, shape: .pair),  // ldp x0, x2
    MemoryTemplate(instruction: 0xA900_0820, alignment: 8, isStore: true, shape: .pair),  // stp x0, x2
    MemoryTemplate(instruction: 0x2940_0820, alignment: 4, isStore: false, shape: .pair),  // ldp w0, w2
    MemoryTemplate(instruction: 0x2900_0820, alignment: 4, isStore: true, shape: .pair),  // stp w0, w2
    MemoryTemplate(instruction: 0xF840_8420, alignment: 8, isStore: false, shape: .writeback),  // ldr x0, [x1], #8
    MemoryTemplate(instruction: 0xF800_8420, alignment: 8, isStore: true, shape: .writeback),  // str x0, [x1], #8
    MemoryTemplate(instruction: 0xF840_8C20, alignment: 8, isStore: false, shape: .preIndexed),  // ldr x0, [x1, #8]!
    MemoryTemplate(instruction: 0xC85F_7C20, alignment: 8, isStore: false, shape: .exclusive),  // ldxr x0
    MemoryTemplate(instruction: 0xC804_7C20, alignment: 8, isStore: true, shape: .exclusive),  // stxr w4, x0
    MemoryTemplate(instruction: 0xC87F_0820, alignment: 16, isStore: false, shape: .exclusive),  // ldxp x0, x2
    MemoryTemplate(instruction: 0xF980_0020, alignment: 1, isStore: false, shape: .hint),  // prfm pldl1keep
    MemoryTemplate(instruction: 0xD50B_7E21, alignment: 1, isStore: false, shape: .hint),  // dc civac, x1
    MemoryTemplate(instruction: 0xD50B_7A21, alignment: 1, isStore: false, shape: .hint),  // dc cvac, x1
  ]

  /// No instruction syndrome for these (ESR.ISV = 0): an emulated device cannot complete them.
  var hasNoSyndrome: Bool { shape == .pair || shape == .writeback || shape == .preIndexed }
}

/// System-instruction encodings (Arm ARM C5.2/C6.2.{MRS,MSR,SYS}), Rt = x0.
enum SystemEncoding {
  static func mrs(op0: UInt64, op1: UInt64, crn: UInt64, crm: UInt64, op2: UInt64) -> UInt32 {
    msr(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2) | 1 << 21  // L = 1: read
  }
  static func msr(op0: UInt64, op1: UInt64, crn: UInt64, crm: UInt64, op2: UInt64) -> UInt32 {
    let high: UInt64 = 0xD500_0000 | op0 << 19 | op1 << 16
    let low: UInt64 = crn << 12 | crm << 8 | op2 << 5
    return UInt32(high | low)
  }
  static let readAuxiliaryControl: UInt32 = 0xD538_1020  // mrs x0, actlr_el1 (HCR_EL2.TACR)
  static let writeAuxiliaryControl: UInt32 = 0xD518_1020  // msr actlr_el1, x0
  /// Harmless at EL1, not trapped by our HCR_EL2: DC CISW/CSW/ISW x0, IC IALLU(IS), TLBI
  /// VMALLE1(IS), AT S1E1R x0.
  static let maintenance: [UInt32] = [
    0xD508_7E40, 0xD508_7A40, 0xD508_7640, 0xD508_751F, 0xD508_711F, 0xD508_871F, 0xD508_831F,
    0xD508_7800,
  ]
  static func hvc(_ immediate: UInt64) -> UInt32 { UInt32(0xD400_0002 | (immediate & 0xFFFF) << 5) }
  static func smc(_ immediate: UInt64) -> UInt32 { UInt32(0xD400_0003 | (immediate & 0xFFFF) << 5) }
  /// HINT #n (NOP, YIELD, WFE, SEV, …); #3 (WFI) is never used: with nothing to wake it the
  /// guest would sleep forever.
  static func hint(_ number: UInt64) -> UInt32 { UInt32(0xD503_201F | (number & 0x7F) << 5) }
}

/// PSCI/SMCCC ids the random calls must not use: they end or suspend the guest (SYSTEM_OFF,
/// SYSTEM_RESET, RESET2, OFF2, CPU_OFF, CPU_SUSPEND, CPU_FREEZE, DEFAULT_SUSPEND,
/// SYSTEM_SUSPEND, MIGRATE, MEM_PROTECT), start code (CPU_ON: only with bad arguments, in the
/// PSCI class), or panic the hypervisor on purpose (TraceHypercall.debugPanic).
func hostileForbidden(_ functionID: UInt64) -> Bool {
  if functionID == Function.debugPanic { return true }
  let base = functionID & 0xFFFF_FF00
  guard functionID >> 32 == 0, base == 0x8400_0000 || base == 0xC400_0000 else { return false }
  switch functionID & 0xFF {
  case 0x01, 0x02, 0x03, 0x05, 0x08, 0x09, 0x0B, 0x0C, 0x0E, 0x12, 0x13, 0x15: return true
  default: return false
  }
}

/// The hostile run's state: the PRNG, the registers for the slot, the tally.
struct HostileRun {
  var random: HostileRandom
  var tally = HostileTally()
  /// x0–x7 for the slot: allocated once (the probe's heap is a small bump allocator, so
  /// nothing in the loop may allocate).
  let registers = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
  var reportedProblems = 0
  let ownAffinity = read_mpidr_el1() & 0xFF_00FF_FFFF

  init(seed: UInt64) {
    random = HostileRandom(seed: seed)
    registers.initialize(repeating: 0, count: 8)
  }

  /// Runs `instruction` with x0–x7 = `registers`; counts what faulted; checks `expectation`.
  mutating func execute(_ instruction: UInt32, _ expectation: HostileExpectation, operation: UInt64) {
    let abortsBefore = Faults.aborts
    let undefinedBefore = Faults.undefined
    hostile_set_instruction(instruction)
    hostile_exec(registers)
    let aborted = Faults.aborts - abortsBefore
    let undefined = Faults.undefined - undefinedBefore
    tally.aborts += aborted
    tally.undefined += undefined
    let ok: Bool
    switch expectation {
    case .anything: ok = aborted + undefined <= 1
    case .abort: ok = aborted == 1 && undefined == 0
    case .noFault: ok = aborted == 0 && undefined == 0
    case .undefined: ok = undefined == 1 && aborted == 0
    }
    if !ok { problem(operation, instruction, detail: aborted << 8 | undefined) }
  }

  /// Counts a violated expectation and prints the first few (op number, instruction, detail).
  mutating func problem(_ operation: UInt64, _ instruction: UInt32, detail: UInt64) {
    tally.unexpected += 1
    guard reportedProblems < 10 else { return }
    reportedProblems += 1
    Out.text("HOSTILE-unexpected: op="); Out.decimal(operation)
    Out.text(" insn="); Out.hex(UInt64(instruction)); Out.text(" x1="); Out.hex(registers[1])
    Out.text(" detail="); Out.hex(detail); Out.text(" esr="); Out.hex(Faults.lastSyndrome)
    Out.text("\r\n")
  }

  // MARK: Operation classes

  /// A random function id: mostly from the ranges that mean something (PSCI, SMCCC, ours).
  mutating func randomFunctionID() -> UInt64 {
    var id: UInt64
    repeat {
      let r = random.next()
      switch r % 8 {
      case 0: id = random.next()
      case 1: id = random.next() & 0xFFFF_FFFF
      case 2: id = 0x8400_0000 | (r >> 8) & 0x1F
      case 3: id = 0xC400_0000 | (r >> 8) & 0x1F
      case 4: id = 0x8000_0000 | (r >> 8) & 0xFFFF
      case 5: id = 0xC600_0000 | (r >> 8) & 0xFF
      case 6: id = 0xC600_0000 | (r >> 8) & 0xFFFF
      default: id = 0x8000_0000 | (r >> 8) & 0x7F00_FFFF
      }
    } while hostileForbidden(id)
    return id
  }

  /// HVC or SMC with a random id, immediate and x1–x7. Checked: x4–x7 preserved (SMCCC 1.1),
  /// unassigned ids of our own range return NOT_SUPPORTED, PSCI_VERSION says 1.x.
  mutating func call(viaSMC: Bool, operation: UInt64) {
    let id = randomFunctionID()
    registers[0] = id
    for index in 1..<8 { registers[index] = random.next() }
    if id == Function.setTracing { registers[1] &= 1 }
    let arguments = (registers[4], registers[5], registers[6], registers[7])
    let immediate = random.below(4) == 0 ? random.next() & 0xFFFF : 0
    let instruction = viaSMC ? SystemEncoding.smc(immediate) : SystemEncoding.hvc(immediate)
    execute(instruction, .noFault, operation: operation)
    let result = registers[0]
    if result >> 63 == 1 { tally.errorsReturned += 1 }
    var ok = registers[4] == arguments.0 && registers[5] == arguments.1 && registers[6] == arguments.2
      && registers[7] == arguments.3
    let ours = id & 0xFFFF_0000 == 0xC600_0000
    let assigned = id <= 0xC600_0003 || (id >= 0xC600_0010 && id <= 0xC600_0012)
    if ours && !assigned { ok = ok && result == Function.notSupported }
    if id == Function.psciVersion { ok = ok && result >> 16 == 1 }
    if !ok { problem(operation, instruction, detail: result) }
  }

  /// PSCI with bad arguments: CPU_ON (bad MPIDR, entry outside RAM, already-on target),
  /// AFFINITY_INFO (bad MPIDR, bad level), CPU_SUSPEND with a reserved power state,
  /// PSCI_FEATURES / SMCCC_ARCH_FEATURES of random ids.
  mutating func badPSCI(operation: UInt64) {
    let sixtyFour = random.below(2) == 0
    let psci: UInt64 = sixtyFour ? 0xC400_0000 : 0x8400_0000
    let width: UInt64 = sixtyFour ? ~0 : 0xFFFF_FFFF
    for index in 1..<8 { registers[index] = random.next() }
    var accepted: (UInt64, UInt64)  // the results that are right (often the same one twice)
    var acceptNonNegative = false
    switch random.below(8) {
    case 0:  // CPU_ON, MPIDR naming no vCPU: Aff1/Aff2 (or Aff3) non-zero, or Aff0 >= 8
      let r = random.next()
      let badAffinity: UInt64 = switch r % 4 {
      case 0: (r >> 8) & 0xFF | (1 + (r >> 16) % 255) << 8  // Aff1
      case 1: (r >> 8) & 0xFF | (1 + (r >> 16) % 255) << 16  // Aff2
      case 2: 8 + (r >> 8) % 248  // Aff0 beyond any vCPU
      default: sixtyFour ? (r >> 8) & 0xFF | (1 + (r >> 16) % 255) << 32 : 0xFF  // Aff3
      }
      registers[0] = psci | 3; registers[1] = badAffinity; registers[2] = GuestMap.ramBase
      accepted = (PSCIError.invalidParameters, PSCIError.invalidParameters)
    case 1:  // CPU_ON of this (already on) vCPU with a valid entry point
      registers[0] = psci | 3; registers[1] = ownAffinity; registers[2] = probe_entry_address()
      accepted = (PSCIError.alreadyOn, PSCIError.alreadyOn)
    case 2:  // CPU_ON of this vCPU, entry point outside RAM or misaligned: either error is right
      registers[0] = psci | 3; registers[1] = ownAffinity
      registers[2] = random.below(2) == 0 ? (random.next() & width) | 0x8000_0000 : probe_entry_address() + 2
      if registers[2] >= GuestMap.ramBase && registers[2] < GuestMap.ramBase + GuestMap.ramSize
        && registers[2] & 3 == 0 { registers[2] = 0x1000 }
      accepted = (PSCIError.invalidAddress, PSCIError.alreadyOn)
    case 3:  // AFFINITY_INFO, this vCPU, level 0: ON
      registers[0] = psci | 4; registers[1] = ownAffinity; registers[2] = 0
      accepted = (0, 0)
    case 4:  // AFFINITY_INFO with a level beyond 3 (levels 1–3: INVALID_PARAMETERS or ON)
      registers[0] = psci | 4; registers[1] = ownAffinity
      registers[2] = random.below(2) == 0 ? 1 + random.below(3) : 4 + (random.next() & 0xFFF)
      accepted = (PSCIError.invalidParameters, registers[2] > 3 ? PSCIError.invalidParameters : 0)
    case 5:  // AFFINITY_INFO of a vCPU that does not exist
      registers[0] = psci | 4; registers[1] = ownAffinity | (0x100 << (random.below(2) * 8)); registers[2] = 0
      accepted = (PSCIError.invalidParameters, PSCIError.invalidParameters)
    case 6:  // CPU_SUSPEND with reserved power-state bits set
      registers[0] = psci | 1; registers[1] = 0xFC00_0000 | random.next() & 0xFFFF_FFFF
      registers[2] = random.next() & width
      accepted = (PSCIError.notSupported, PSCIError.invalidParameters)
    default:  // PSCI_FEATURES / SMCCC_ARCH_FEATURES of a random id
      registers[0] = random.below(2) == 0 ? 0x8400_000A : 0x8000_0001
      registers[1] = randomFunctionID() & 0xFFFF_FFFF
      accepted = (PSCIError.notSupported, 0)
      acceptNonNegative = true  // features may return flags (e.g. CPU_SUSPEND's)
    }
    registers[0] &= 0xFFFF_FFFF
    let instruction = random.below(2) == 0 ? SystemEncoding.hvc(0) : SystemEncoding.smc(0)
    execute(instruction, .noFault, operation: operation)
    let result = registers[0]
    if result >> 63 == 1 { tally.errorsReturned += 1 }
    if !(result == accepted.0 || result == accepted.1 || (acceptNonNegative && result >> 31 == 0)) {
      problem(operation, instruction, detail: result)
    }
  }

  /// A random address of one kind and what a plain access there must do.
  enum Target { case ram, hole, traceRegion, beyondIPA, beyondPA, distributor, testDevice, uart }
  /// The targets drawn from (RAM, the emulated devices twice as often as the rest).
  static let targets: [Target] = [.ram, .ram, .hole, .traceRegion, .beyondIPA, .beyondPA, .distributor,
                                  .distributor, .testDevice, .testDevice, .uart]

  mutating func memory(operation: UInt64) {
    let templates = MemoryTemplate.all
    var template = templates[Int(random.below(UInt64(templates.count)))]
    let targets = HostileRun.targets
    let target = targets[Int(random.below(UInt64(targets.count)))]
    let unaligned = random.below(8) == 0 && template.alignment > 1
    var address: UInt64
    switch target {
    case .ram: address = HostileMap.scratchBase + random.below(HostileMap.scratchSize - 64)
    case .hole:
      let hole = HostileMap.holes[Int(random.below(UInt64(HostileMap.holes.count)))]
      address = hole.0 + random.below(hole.1 - hole.0 - 32)
    case .traceRegion: address = HostileMap.traceRegion + random.below(HostileMap.traceRegionSize - 32)
    case .beyondIPA:
      address = random.below(2) == 0 ? HostileMap.hypervisorImageAlias + random.below(16 << 20)
        : 0x1_0000_0000 + random.below(0xFF_0000_0000)
    case .beyondPA: address = (random.next() | 1 << 52) & ~(0xF << 56 as UInt64) | random.below(16) << 60
    case .distributor: address = GuestMap.distributor + random.below(0x1000 - 16)
    case .testDevice:
      address = ProbeProtocol.testDeviceIPA + (random.below(2) == 0 ? random.below(0x30) : random.below(0x1000 - 16))
    case .uart:
      // Reads anywhere in the PL011 (passed through); writes only to ILPR (0x20) and ICR
      // (0x44), which cannot disturb the console the summary needs.
      if template.isStore || template.shape == .exclusive || template.shape == .hint {
        template = MemoryTemplate(instruction: 0xB900_0020, alignment: 4, isStore: true, shape: .single)
        address = GuestMap.uart + (random.below(2) == 0 ? 0x20 : 0x44)
      } else {
        address = GuestMap.uart + random.below(0x1000 - 16)
      }
    }
    let alignment = max(template.alignment, template.shape == .exclusive ? 16 : 1)
    address &= ~(alignment - 1)
    if target == .uart && !template.isStore { address &= ~3 }
    if unaligned && target != .uart { address += 1 + random.below(template.alignment - 1) }
    registers[0] = random.next(); registers[1] = address; registers[2] = random.next()
    registers[4] = random.next()
    if template.shape == .preIndexed { registers[1] = address &- 8 }
    let expectation: HostileExpectation
    switch target {
    case _ where template.shape == .hint || template.shape == .exclusive: expectation = .anything
    case _ where unaligned: expectation = .anything  // alignment fault (Device memory, MMU off), or not
    case .ram, .uart: expectation = .noFault
    case .hole, .traceRegion, .beyondIPA, .beyondPA: expectation = .abort
    case .distributor, .testDevice: expectation = template.hasNoSyndrome ? .abort : .anything
    }
    execute(template.instruction, expectation, operation: operation)
  }

  /// Trapped and UNDEFINED system-register accesses and untrapped maintenance instructions.
  mutating func systemRegister(operation: UInt64) {
    registers[0] = random.next()
    switch random.below(6) {
    case 0:  // ACTLR_EL1 (trapped): a write is ignored, the read returns the real value
      let before = read_actlr_el1()
      execute(SystemEncoding.writeAuxiliaryControl, .noFault, operation: operation)
      execute(SystemEncoding.readAuxiliaryControl, .noFault, operation: operation)
      if registers[0] != before { problem(operation, SystemEncoding.readAuxiliaryControl, detail: registers[0]) }
    case 1, 2:  // EL2/EL3 registers (op1 = 4 / 6) from EL1: UNDEFINED, read or write
      let op1: UInt64 = random.below(2) == 0 ? 4 : 6
      let (crn, crm, op2) = (random.below(16), random.below(16), random.below(8))
      let instruction = random.below(2) == 0
        ? SystemEncoding.mrs(op0: 3, op1: op1, crn: crn, crm: crm, op2: op2)
        : SystemEncoding.msr(op0: 3, op1: op1, crn: crn, crm: crm, op2: op2)
      execute(instruction, .undefined, operation: operation)
    case 3, 4:  // any EL1/EL0 register encoding, read only: a value or UNDEFINED
      let instruction = SystemEncoding.mrs(op0: 2 + random.below(2), op1: random.below(2) == 0 ? 0 : 3,
                                           crn: random.below(16), crm: random.below(16), op2: random.below(8))
      execute(instruction, .anything, operation: operation)
    default:  // set/way cache maintenance, TLB and AT at EL1: not trapped, no fault
      let maintenance = SystemEncoding.maintenance
      registers[0] = random.next() & 0xFFFF_FFFE  // (AT: any address; set/way: any set/way)
      execute(maintenance[Int(random.below(UInt64(maintenance.count)))], .noFault, operation: operation)
    }
  }

  /// Hints (WFE traps to the hypervisor, never WFI) and permanently UNDEFINED encodings.
  mutating func miscellaneous(operation: UInt64) {
    switch random.below(3) {
    case 0: execute(SystemEncoding.hint(2), .noFault, operation: operation)  // WFE (HCR_EL2.TWE)
    case 1:
      var number = random.below(128)
      if number == 3 { number = 2 }
      execute(SystemEncoding.hint(number), .noFault, operation: operation)
    default: execute(UInt32(random.below(0x1_0000)), .undefined, operation: operation)  // UDF #imm16
    }
  }
}

/// PSCI error codes as the guest sees them in x0 (DEN 0022D table 5.2.2).
enum PSCIError {
  static let notSupported = UInt64(bitPattern: -1)
  static let invalidParameters = UInt64(bitPattern: -2)
  static let alreadyOn = UInt64(bitPattern: -4)
  static let invalidAddress = UInt64(bitPattern: -9)
}

/// Sum of a word range, mixed so a single swapped or changed word shows.
func hostileChecksum(from start: UInt64, to end: UInt64) -> UInt64 {
  var sum: UInt64 = 0
  var address = start
  while address < end {
    sum = (sum ^ probe_load64(address)) &* 0x100_0000_01B3 &+ address
    address += 8
  }
  return sum
}

/// Fills the guarded area from the seed; returns its checksum.
func fillGuardedArea(seed: UInt64) -> UInt64 {
  var random = HostileRandom(seed: seed ^ 0x6775_6172_6465_64)
  var address = HostileMap.guardedBase
  while address < HostileMap.guardedBase + HostileMap.guardedSize {
    probe_store64(address, random.next())
    address += 8
  }
  return hostileChecksum(from: HostileMap.guardedBase, to: HostileMap.guardedBase + HostileMap.guardedSize)
}

func hostileMode(seed: UInt64, operations: UInt64) {
  Out.text(ProbeProtocol.markerHostileStart)
  Out.text(" seed="); Out.hex(seed); Out.field("ops", operations); Out.text("\r\n")
  let imageOK = probe_image_end() <= HostileMap.scratchBase
  let imageSum = hostileChecksum(from: probe_entry_address(), to: probe_image_readonly_end())
  let guardedSum = fillGuardedArea(seed: seed)

  var run = HostileRun(seed: seed)
  for operation in 0..<operations {
    let r = run.random.below(16)
    let kind: HostileClass = switch r {
    case 0...2: .hvc
    case 3...4: .smc
    case 5: .psci
    case 6...11: .memory
    case 12...14: .sysreg
    default: .misc
    }
    run.tally.perClass[kind.rawValue] += 1
    switch kind {
    case .hvc: run.call(viaSMC: false, operation: operation)
    case .smc: run.call(viaSMC: true, operation: operation)
    case .psci: run.badPSCI(operation: operation)
    case .memory: run.memory(operation: operation)
    case .sysreg: run.systemRegister(operation: operation)
    case .misc: run.miscellaneous(operation: operation)
    }
  }

  // Own memory intact: the read-only image and the guarded area, as before the run.
  let memoryIntact = imageOK
    && hostileChecksum(from: probe_entry_address(), to: probe_image_readonly_end()) == imageSum
    && hostileChecksum(from: HostileMap.guardedBase, to: HostileMap.guardedBase + HostileMap.guardedSize) == guardedSum
  // The hypervisor still answers: null call, PSCI_VERSION by HVC and SMC, the emulated device.
  let responsive = probe_hvc(Function.hypervisorNull, 0, 0, 0) == 0
    && probe_hvc(Function.psciVersion, 0, 0, 0) == 0x1_0001
    && probe_smc(Function.psciVersion, 0, 0, 0) == 0x1_0001
    && probe_load32(ProbeProtocol.testDeviceIPA) == 0x4856_5452
  let tally = run.tally
  Out.text(ProbeProtocol.markerHostileDone)
  Out.field("ops", operations)
  Out.field("hvc", tally.perClass[HostileClass.hvc.rawValue])
  Out.field("smc", tally.perClass[HostileClass.smc.rawValue])
  Out.field("psci", tally.perClass[HostileClass.psci.rawValue])
  Out.field("mem", tally.perClass[HostileClass.memory.rawValue])
  Out.field("sysreg", tally.perClass[HostileClass.sysreg.rawValue])
  Out.field("misc", tally.perClass[HostileClass.misc.rawValue])
  Out.field("aborts", tally.aborts); Out.field("undefs", tally.undefined)
  Out.field("errors", tally.errorsReturned); Out.field("unexpected", tally.unexpected)
  Out.field("memory-intact", memoryIntact ? 1 : 0); Out.field("responsive", responsive ? 1 : 0)
  Out.verdict(tally.unexpected == 0 && memoryIntact && responsive)
}

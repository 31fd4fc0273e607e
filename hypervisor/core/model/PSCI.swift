// PSCI 1.1 (Arm DEN 0022D) and SMCCC 1.1 (Arm DEN 0028) call decoding and argument checks,
// plus our own hypervisor-call range. Pure logic: the handler in core/Hypercalls.swift applies
// the results to a vCPU.

import TraceFormat

/// PSCI / SMCCC return values (DEN 0022D table 5.2.2), as the signed value in x0.
enum PSCIReturn: Int64, Equatable {
  case success = 0
  case notSupported = -1
  case invalidParameters = -2
  case denied = -3
  case alreadyOn = -4
  case onPending = -5
  case internalFailure = -6
  case notPresent = -7
  case disabled = -8
  case invalidAddress = -9

  var register: UInt64 { UInt64(bitPattern: rawValue) }
}

/// Function identifiers. PSCI functions exist as SMC32 (0x8400_00nn) and, when they take
/// addresses, SMC64 (0xC400_00nn); SMCCC's own in 0x8000_xxxx; ours in the vendor-specific
/// hypervisor service range, owning entity 6 (SMC64 fast calls 0xC600_0000–0xC600_FFFF).
enum FunctionID {
  static let smcccVersion: UInt32 = 0x8000_0000
  static let smcccArchFeatures: UInt32 = 0x8000_0001
  static let psciVersion: UInt32 = 0x8400_0000
  static let cpuSuspend32: UInt32 = 0x8400_0001
  static let cpuSuspend64: UInt32 = 0xC400_0001
  static let cpuOff: UInt32 = 0x8400_0002
  static let cpuOn32: UInt32 = 0x8400_0003
  static let cpuOn64: UInt32 = 0xC400_0003
  static let affinityInfo32: UInt32 = 0x8400_0004
  static let affinityInfo64: UInt32 = 0xC400_0004
  static let migrateInfoType: UInt32 = 0x8400_0006
  static let systemOff: UInt32 = 0x8400_0008
  static let systemReset: UInt32 = 0x8400_0009
  static let psciFeatures: UInt32 = 0x8400_000A

  /// Ours: does nothing and returns 0 — the null round trip the probe measures.
  static let hypervisorNull: UInt32 = TraceHypercall.null
  // 0xC600_0001 (old trace marker) and 0xC600_0002 (old debug panic): retired, reserved.
  /// Ours: returns how many exits of ESR class x1 this vCPU has taken (probe self-checks).
  static let hypervisorExitCount: UInt32 = TraceHypercall.exitCount
  /// Ours (hypervisor-only calls): first id not yet assigned below the tracing calls at
  /// 0xC600_0010 (keep retired ids reserved, like Perfetto's protos).
  static let hypervisorNextFree: UInt32 = 0xC600_0004
  /// Tracing calls, defined once in TraceFormat's `TraceHypercall` (shared with the host and guests).
  static let traceMarker: UInt32 = TraceHypercall.guestMarker
  static let traceSetTracing: UInt32 = TraceHypercall.setTracing
  static let traceFlush: UInt32 = TraceHypercall.flush
  static let debugPanic: UInt32 = TraceHypercall.debugPanic
}

/// A decoded call, x0 = function id, x1–x3 = arguments (SMC32 calls use the low 32 bits).
enum HypervisorCallRequest: Equatable {
  case smcccVersion
  case smcccArchFeatures(queried: UInt32)
  case psciVersion
  case psciFeatures(queried: UInt32)
  case cpuOn(targetAffinity: UInt64, entryPoint: UInt64, context: UInt64)
  case cpuOff
  case affinityInfo(targetAffinity: UInt64, lowestLevel: UInt64)
  case migrateInfoType
  case systemOff
  case systemReset
  case hypervisorNull
  case traceMarker(id: UInt64, value: UInt64)
  case setTracing(on: Bool)
  case flushTrace
  case panicNow
  case exitCount(exceptionClass: UInt64)
  case unknown(functionID: UInt64)

  init(x0: UInt64, x1: UInt64, x2: UInt64, x3: UInt64) {
    // SMCCC: bits [63:32] of the function id must be zero.
    guard x0 >> 32 == 0 else { self = .unknown(functionID: x0); return }
    let low = { (value: UInt64) in value & 0xFFFF_FFFF }
    switch UInt32(x0) {
    case FunctionID.smcccVersion: self = .smcccVersion
    case FunctionID.smcccArchFeatures: self = .smcccArchFeatures(queried: UInt32(low(x1)))
    case FunctionID.psciVersion: self = .psciVersion
    case FunctionID.psciFeatures: self = .psciFeatures(queried: UInt32(low(x1)))
    case FunctionID.cpuOn32:
      self = .cpuOn(targetAffinity: low(x1), entryPoint: low(x2), context: low(x3))
    case FunctionID.cpuOn64: self = .cpuOn(targetAffinity: x1, entryPoint: x2, context: x3)
    case FunctionID.cpuOff: self = .cpuOff
    case FunctionID.affinityInfo32: self = .affinityInfo(targetAffinity: low(x1), lowestLevel: low(x2))
    case FunctionID.affinityInfo64: self = .affinityInfo(targetAffinity: x1, lowestLevel: x2)
    case FunctionID.migrateInfoType: self = .migrateInfoType
    case FunctionID.systemOff: self = .systemOff
    case FunctionID.systemReset: self = .systemReset
    case FunctionID.hypervisorNull: self = .hypervisorNull
    case FunctionID.traceMarker: self = .traceMarker(id: x1, value: x2)
    case FunctionID.traceSetTracing: self = .setTracing(on: x1 != 0)
    case FunctionID.traceFlush: self = .flushTrace
    case FunctionID.debugPanic: self = .panicNow
    case FunctionID.hypervisorExitCount: self = .exitCount(exceptionClass: x1)
    default: self = .unknown(functionID: x0)
    }
  }
}

/// PSCI 1.1 encoded as VERSION returns it: major in [30:16], minor in [15:0].
let psciVersionValue: UInt64 = 0x0001_0001
/// SMCCC 1.1.
let smcccVersionValue: UInt64 = 0x0001_0001

/// PSCI_FEATURES(fid): 0 for the functions we implement, NOT_SUPPORTED otherwise.
func psciFeatures(_ functionID: UInt32) -> PSCIReturn {
  switch functionID {
  case FunctionID.psciVersion, FunctionID.cpuOff, FunctionID.cpuOn32, FunctionID.cpuOn64,
    FunctionID.affinityInfo32, FunctionID.affinityInfo64, FunctionID.migrateInfoType,
    FunctionID.systemOff, FunctionID.systemReset, FunctionID.psciFeatures,
    FunctionID.smcccVersion:
    .success
  default:
    .notSupported
  }
}

/// SMCCC_ARCH_FEATURES(fid): 0 if implemented. No workaround calls are offered.
func smcccArchFeatures(_ functionID: UInt32) -> PSCIReturn {
  switch functionID {
  case FunctionID.smcccVersion, FunctionID.smcccArchFeatures: .success
  default: .notSupported
  }
}

/// What PSCI needs to know about a VM to check arguments.
struct PSCITopology: Equatable {
  let vcpuCount: Int
  let ramBase: UInt64
  let ramSize: UInt64

  /// The vCPU index an MPIDR names (Aff0 = index, higher affinities 0), or nil.
  /// DEN 0022D 5.1.4 (target_cpu): Aff3 [39:32], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0]; bits
  /// [63:40] and [31:24] must be zero. Our vCPUs differ in Aff0 only, so every other bit must
  /// be zero (the old mask missed Aff2 and the must-be-zero bits: MPIDR 0x1_0000 named vCPU 0).
  func vcpuIndex(affinity: UInt64) -> Int? {
    guard affinity >> 8 == 0 else { return nil }
    let index = Int(affinity & 0xFF)
    return index < vcpuCount ? index : nil
  }

  /// CPU_ON checks (DEN 0022D 5.6): a target that exists, an entry point inside guest RAM and
  /// 4-byte aligned, a target not already on. Returns nil when the call may proceed.
  func checkCPUOn(targetAffinity: UInt64, entryPoint: UInt64, targetIsOn: (Int) -> Bool)
    -> PSCIReturn?
  {
    guard let index = vcpuIndex(affinity: targetAffinity) else { return .invalidParameters }
    guard entryPoint & 3 == 0, entryPoint >= ramBase, entryPoint - ramBase < ramSize else {
      return .invalidAddress
    }
    if targetIsOn(index) { return .alreadyOn }
    return nil
  }

  /// AFFINITY_INFO checks: only level 0 is meaningful for us (no clusters emulated).
  func checkAffinityInfo(targetAffinity: UInt64, lowestLevel: UInt64) -> PSCIReturn? {
    guard lowestLevel == 0 else { return .invalidParameters }
    guard vcpuIndex(affinity: targetAffinity) != nil else { return .invalidParameters }
    return nil
  }
}

import Testing
@testable import HypervisorModel

@Test("Function ids decode; SMC32 forms use the low 32 bits of arguments", arguments: [
  (UInt64(0x8400_0000), UInt64(0), UInt64(0), HypervisorCallRequest.psciVersion),
  (0x8400_000A, 0x8400_0008, 0, .psciFeatures(queried: 0x8400_0008)),
  (0x8400_0003, 0xFFFF_FFFF_0000_0001, 0x1_4008_0000, .cpuOn(targetAffinity: 1, entryPoint: 0x4008_0000, context: 0)),
  (0xC400_0003, 1, 0x1_4008_0000, .cpuOn(targetAffinity: 1, entryPoint: 0x1_4008_0000, context: 0)),
  (0x8400_0008, 0, 0, .systemOff),
  (0xC600_0000, 0, 0, .hypervisorNull),
  (0xC600_0010, 7, 9, .traceMarker(id: 7, value: 9)),
  (0xC600_0011, 1, 0, .setTracing(on: true)),
  (0xC600_0011, 0, 0, .setTracing(on: false)),
  (0xC600_0012, 0, 0, .flushTrace),
  (0xC600_00FF, 0, 0, .panicNow),
  (0xC600_0001, 0, 0, .unknown(functionID: 0xC600_0001)),  // retired id
  (0xC600_0002, 0, 0, .unknown(functionID: 0xC600_0002)),  // retired id
  (0x8200_0000, 0, 0, .unknown(functionID: 0x8200_0000)),
  (0x1_8400_0000, 0, 0, .unknown(functionID: 0x1_8400_0000)),  // upper bits set: not SMCCC
])
func decodesRequests(x0: UInt64, x1: UInt64, x2: UInt64, expected: HypervisorCallRequest) {
  #expect(HypervisorCallRequest(x0: x0, x1: x1, x2: x2, x3: 0) == expected)
}

@Test("PSCI_FEATURES answers for implemented functions only", arguments: [
  (FunctionID.systemOff, PSCIReturn.success), (FunctionID.cpuOn64, .success),
  (FunctionID.psciFeatures, .success), (FunctionID.cpuSuspend32, .notSupported),
  (0x8400_00FF, .notSupported), (FunctionID.hypervisorNull, .notSupported),
])
func features(functionID: UInt32, expected: PSCIReturn) {
  #expect(psciFeatures(functionID) == expected)
}

@Test("CPU_ON argument checks", arguments: [
  (UInt64(1), UInt64(0x4008_0000), false, PSCIReturn?.none),
  (5, 0x4008_0000, false, .invalidParameters),  // no vCPU 5
  (0x100, 0x4008_0000, false, .invalidParameters),  // Aff1 set
  (1, 0x3FFF_F000, false, .invalidAddress),  // below RAM
  (1, 0x4800_0000, false, .invalidAddress),  // just past RAM
  (1, 0x4008_0002, false, .invalidAddress),  // misaligned
  (1, 0x4008_0000, true, .alreadyOn),
])
func cpuOnChecks(target: UInt64, entry: UInt64, alreadyOn: Bool, expected: PSCIReturn?) {
  let topology = PSCITopology(vcpuCount: 2, ramBase: 0x4000_0000, ramSize: 128 << 20)
  #expect(topology.checkCPUOn(targetAffinity: target, entryPoint: entry, targetIsOn: { _ in alreadyOn }) == expected)
}

@Test("An MPIDR names a vCPU only when every bit but Aff0 is zero (Aff1–Aff3, must-be-zero bits)",
      arguments: [
        (UInt64(0), Optional(0)), (1, 1), (2, nil), (0xFF, nil),
        (0x100, nil),  // Aff1
        (0x1_0000, nil), (0x1_0001, nil),  // Aff2 (found by the hostile probe: was vCPU 0 / 1)
        (0x100_0000, nil),  // bits [31:24], must be zero
        (0x8000_0000, nil),  // MPIDR_EL1 bit 31 (RES1 in the register, not part of target_cpu)
        (0x1_0000_0000, nil),  // Aff3
        (0x100_0000_0000, nil), (0x8000_0000_0000_0000, nil),  // bits [63:40]
      ])
func mpidrNamesVCpu(affinity: UInt64, expected: Int?) {
  let topology = PSCITopology(vcpuCount: 2, ramBase: 0x4000_0000, ramSize: 128 << 20)
  #expect(topology.vcpuIndex(affinity: affinity) == expected)
  #expect((topology.checkCPUOn(targetAffinity: affinity, entryPoint: 0x4008_0000, targetIsOn: { _ in false })
    == .invalidParameters) == (expected == nil))
  #expect((topology.checkAffinityInfo(targetAffinity: affinity, lowestLevel: 0) == .invalidParameters)
    == (expected == nil))
}

@Test("AFFINITY_INFO accepts level 0 and existing vCPUs only")
func affinityInfoChecks() {
  let topology = PSCITopology(vcpuCount: 2, ramBase: 0x4000_0000, ramSize: 128 << 20)
  #expect(topology.checkAffinityInfo(targetAffinity: 1, lowestLevel: 0) == nil)
  #expect(topology.checkAffinityInfo(targetAffinity: 1, lowestLevel: 1) == .invalidParameters)
  #expect(topology.checkAffinityInfo(targetAffinity: 2, lowestLevel: 0) == .invalidParameters)
}

@Test("NOT_SUPPORTED is -1 in x0")
func notSupportedRegister() {
  #expect(PSCIReturn.notSupported.register == 0xFFFF_FFFF_FFFF_FFFF)
}

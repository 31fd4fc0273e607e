import Testing
import TraceFormat
@testable import HypervisorModel

/// (virtual INTID, priority, physical INTID, EOI maintenance, expected register value)
private let listRegisterCases: [(UInt32, UInt8, UInt32?, Bool, UInt32)] = [
  // PPI 30 linked to physical 30, priority 0xA0: HW | pINTID 30<<10 | pending | prio 0xA0>>3<<23 | 30
  (30, 0xA0, 30, false, 0x9000_0000 | (0x14 << 23) | (30 << 10) | 30),
  // virtual-only SPI 40 with EOI maintenance
  (40, 0x80, nil, true, 0x1000_0000 | (0x10 << 23) | (1 << 19) | 40),
]

@Test("List registers encode ID, priority, state, group and the HW link", arguments: listRegisterCases)
func listRegister(id: UInt32, priority: UInt8, hardware: UInt32?, eoi: Bool, expected: UInt32) {
  let lr = GICListRegister(virtualInterrupt: id, priority: priority, hardwareInterrupt: hardware,
                           maintenanceOnEOI: eoi)
  #expect(lr.rawValue == expected)
  #expect(lr.virtualInterrupt == id)
  #expect(lr.state == .pending)
  #expect(lr.physicalInterrupt == hardware)
  #expect(lr.priority == priority & 0xF8)
}

/// (SGI, source vCPU, group 1, expected register value)
private let softwareInterruptCases: [(UInt32, UInt8, Bool, UInt32)] = [
  // SGI 1 from vCPU 1, priority 0xA0, group 0: pending | prio | CPUID 1 << 10 | 1
  (1, 1, false, 0x1000_0000 | (0x14 << 23) | (1 << 10) | 1),
  // SGI 15 from vCPU 7, group 1
  (15, 7, true, 0x5000_0000 | (0x14 << 23) | (7 << 10) | 15),
  // SGI 0 from vCPU 0: CPUID field zero
  (0, 0, false, 0x1000_0000 | (0x14 << 23)),
]

@Test("SGI list registers carry the sending vCPU in CPUID", arguments: softwareInterruptCases)
func softwareInterruptListRegister(sgi: UInt32, source: UInt8, group1: Bool, expected: UInt32) {
  let lr = GICListRegister(virtualInterrupt: sgi, priority: 0xA0, group1: group1, sourceCPU: source)
  #expect(lr.rawValue == expected)
  #expect(lr.sourceCPU == source)
  #expect(!lr.isHardware)
}

@Test("A hardware-linked list register ignores the source CPU")
func hardwareListRegisterHasNoSource() {
  let lr = GICListRegister(virtualInterrupt: 27, priority: 0xA0, hardwareInterrupt: 27, sourceCPU: 3)
  #expect(lr.physicalInterrupt == 27)
  #expect(lr.sourceCPU == 0)
}

@Test("Injected exceptions pick the vector for the guest's mode", arguments: [
  (UInt64(0x3C5), UInt64(0x200)),  // EL1h
  (0x3C4, 0x000),  // EL1t
  (0x000, 0x400),  // EL0t
])
func vectorOffset(guestState: UInt64, expected: UInt64) {
  #expect(GuestExceptionEntry(.undefinedInstruction, guestState: guestState).vectorOffset == expected)
}

@Test("An injected data abort is a synchronous external abort with WnR and FAR")
func injectedDataAbort() {
  let entry = GuestExceptionEntry(.dataAbort(address: 0x4800_0000, isWrite: true), guestState: 0x3C5)
  let syndrome = ExceptionSyndrome(rawValue: entry.syndrome)
  #expect(syndrome.exceptionClass == .dataAbortCurrent)
  #expect(syndrome.dataAbort.faultStatusCode == 0x10)
  #expect(syndrome.dataAbort.isWrite)
  #expect(entry.faultAddress == 0x4800_0000)
  let fromUser = GuestExceptionEntry(.dataAbort(address: 0, isWrite: false), guestState: 0)
  #expect(ExceptionSyndrome(rawValue: fromUser.syndrome).exceptionClass == .dataAbortLower)
}

// `dump` and the analyses name hypercalls, interrupts, system registers and exit reasons from one set
// of tables: the text a dump line shows is the label a report row or flame frame gets.

import HVTrace
import Testing

@Test(arguments: [UInt32(0x8400_0000), 0xC400_0003, 0x8400_0008, 0x8000_8000, TraceHypercall.guestMarker,
                  TraceHypercall.setTracing, TraceHypercall.flush, TraceHypercall.debugPanic])
func dumpAndReportNameHypercallsAlike(functionID: UInt32) throws {
    let label = HypercallNames.name(functionID)
    #expect(!label.hasPrefix("0x"), "every id here has a name")
    let fields = TraceTextFormatter.fields(.hypercall(conduit: .hvc, immediate: 0, functionID: functionID))
    #expect(fields.hasSuffix("(\(label))"))
}

@Test func traceHypercallsAreNamedAfterTheProject() {
    #expect(HypercallNames.name(TraceHypercall.guestMarker) == "HVTRACE_MARKER")
}

@Test(arguments: [UInt16(3), 25, 26, 27, 29, 30, 33, 1023])
func dumpAndReportNameInterruptsAlike(intid: UInt16) {
    let label = InterruptNames.name(intid)
    #expect(!label.contains(" "), "one word, so folded stacks stay parseable")
    #expect(TraceTextFormatter.fields(.physicalIRQ(intid: intid)) == "intid=\(intid) (\(label))")
}

@Test(arguments: [SysregEncoding.make(op0: 3, op1: 3, crn: 14, crm: 3, op2: 1),
                  SysregEncoding.make(op0: 3, op1: 0, crn: 1, crm: 0, op2: 0),
                  SysregEncoding.make(op0: 3, op1: 7, crn: 15, crm: 15, op2: 7)])
func dumpAndReportNameSystemRegistersAlike(encoding: UInt16) {
    #expect(TraceTextFormatter.fields(.sysregTrap(encoding: encoding, isWrite: true)) == "reg=\(SysregNames.name(encoding)) write")
}

@Test(arguments: [UInt8(0x16), 0x17, 0x18, 0x24, 0x3F, 0x40])
func dumpAndReportNameExitReasonsAlike(ec: UInt8) {
    let fields = TraceTextFormatter.fields(.exitEntry(ec: ec, iss: 0, vcpu: 0))
    #expect(fields.hasPrefix("reason=\(ExitReason(ec: ec, iss: 0).name) "))
}

// KVM arm64's trace events as ftrace prints them, parsed from their text. Formats: Linux
// arch/arm64/kvm/trace_arm.h (kvm_entry, kvm_exit, kvm_guest_fault, kvm_irq_line, kvm_timer_*),
// trace_handle_exit.h (kvm_wfx_arm64, kvm_hvc_arm64, kvm_handle_sys_reg, kvm_sys_access),
// vgic/trace.h (vgic_update_irq_pending) and include/trace/events/kvm.h (kvm_userspace_exit,
// kvm_mmio, kvm_vcpu_wakeup), as in 4.19 to 6.x. trace-cmd's kvm plugin, written for x86, prefixes
// arm64's kvm_entry/kvm_exit text with `CAN'T FIND FIELD "vcpu_id"<CANT FIND FIELD rip>` and
// `<CANT FIND FIELD exit_reason>`; those fragments are skipped. Its libtraceevent also cannot print
// kvm_wfx_arm64's `%c` (`guest executed wf>c< at: 0x0…0`): the kind is then unknown.

/// kvm_exit's `ret`: why the guest stopped (arch/arm64/include/asm/kvm_asm.h ARM_EXCEPTION_*).
enum KVMExitType: Equatable {
    case irq, serror, trap, illegalReturn, hypervisorGone
    case other(UInt64)
}

/// One KVM event with the fields hvtrace maps.
enum KVMEvent: Equatable {
    /// `TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x…`; `ec` nil in the oldest format (`PC: 0x…` alone),
    /// `pc` nil in options/raw (no fields).
    case exit(type: KVMExitType, ec: UInt8?, pc: UInt64?)
    case entry(pc: UInt64?)
    case hypercall(pc: UInt64, x0: UInt64, immediate: UInt64)
    /// `mmio read|write|unsatisfied-read len N gpa 0x… val 0x…`.
    case mmio(kind: MMIOKind, length: UInt64, gpa: UInt64, value: UInt64)
    /// `isWFE` nil: trace-cmd's libtraceevent cannot print the `%c` of this event (`wf>c<`).
    case wait(isWFE: Bool?, pc: UInt64)
    /// `reason KVM_EXIT_MMIO (6)`; `reason restart (4)` / `reason error (N)` for failed runs.
    case userspaceExit(reason: UInt64, failed: Bool)
    case guestFault(ipa: UInt64, esr: UInt64, far: UInt64, pc: UInt64)
    case sysregTrap(esr: UInt64)
    /// `PC: 40082d30 SYS_ACTLR_EL1 (3,0,1,0,1) read`.
    case sysregAccess(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8, isWrite: Bool)
    /// `wait time 97632 ns, polling valid` (or `poll time …`).
    case wakeup(waited: Bool, nanoseconds: UInt64)
    /// `VCPU: 0, IRQ 27, level: 1`.
    case interruptPending(vcpu: UInt64, intid: UInt64, level: Bool)

    enum MMIOKind: Equatable { case read, write, unsatisfiedRead }
}

/// The names of the events hvtrace maps; every other event is counted by name as not mapped.
enum KVMEventName {
    static let exit: StaticString = "kvm_exit"
    static let entry: StaticString = "kvm_entry"
    static let hypercall: StaticString = "kvm_hvc_arm64"
    static let mmio: StaticString = "kvm_mmio"
    static let wait: StaticString = "kvm_wfx_arm64"
    static let userspaceExit: StaticString = "kvm_userspace_exit"
    static let guestFault: StaticString = "kvm_guest_fault"
    static let sysregTrap: StaticString = "kvm_handle_sys_reg"
    static let sysregAccess: StaticString = "kvm_sys_access"
    static let wakeup: StaticString = "kvm_vcpu_wakeup"
    static let interruptPending: StaticString = "vgic_update_irq_pending"
}

/// A mapped event whose text is not what its format prints: the 1-based column where reading
/// failed and what was expected there.
struct KVMFieldError: Error, Equatable {
    var column: Int
    var expected: String
}

enum KVMEventParser {
    /// Parses the fields of event `name`; nil when the event is not one hvtrace maps.
    static func parse(name: UnsafeBufferPointer<UInt8>, fields start: LineCursor) throws(KVMFieldError) -> KVMEvent? {
        var cursor = start
        func fail(_ expected: String) -> KVMFieldError { KVMFieldError(column: cursor.column, expected: expected) }
        func expect(_ literal: StaticString) throws(KVMFieldError) {
            guard cursor.take(literal) else { throw fail("'\(literal)'") }
        }
        func hex(_ what: String) throws(KVMFieldError) -> UInt64 {
            guard let value = cursor.hexadecimal() else { throw fail("\(what) in hex") }
            return value
        }
        func decimal(_ what: String) throws(KVMFieldError) -> UInt64 {
            guard let value = cursor.decimal() else { throw fail("\(what), a decimal number") }
            return value
        }
        func end() throws(KVMFieldError) {
            cursor.skipSpaces()
            guard cursor.atEnd else { throw fail("the end of the line") }
        }

        if name.equals(KVMEventName.exit) {
            skipPluginArtifacts(&cursor)
            if cursor.take("PC: ") {
                let pc = try hex("the PC")
                try end()
                return .exit(type: .trap, ec: nil, pc: pc)
            }
            let typeStart = cursor.index
            while let byte = cursor.current, byte != UInt8(ascii: ":") { cursor.index += 1 }
            let typeWord = UnsafeBufferPointer(rebasing: start.bytes[typeStart..<cursor.index])
            let type: KVMExitType
            if typeWord.equals("TRAP") { type = .trap }
            else if typeWord.equals("IRQ") { type = .irq }
            else if typeWord.equals("SERROR") { type = .serror }
            else if typeWord.equals("HYP_GONE") { type = .hypervisorGone }
            else {
                var number = LineCursor(typeWord)
                guard let value = number.hexadecimal(), number.atEnd else {
                    cursor.index = typeStart
                    throw fail("the exit type (IRQ, SERROR, TRAP, HYP_GONE or a number)")
                }
                type = value == 3 ? .illegalReturn : .other(value)
            }
            try expect(": HSR_EC: ")
            let ec = try hex("ESR_EL2.EC")
            guard ec < 64 else { throw fail("ESR_EL2.EC below 0x40") }
            try expect(" (")
            while let byte = cursor.current, byte != UInt8(ascii: ")") { cursor.index += 1 }
            try expect("), PC: ")
            let pc = try hex("the PC")
            try end()
            return .exit(type: type, ec: UInt8(ec), pc: pc)
        }
        if name.equals(KVMEventName.entry) {
            skipPluginArtifacts(&cursor)
            try expect("PC: ")
            let pc = try hex("the PC")
            try end()
            return .entry(pc: pc)
        }
        if name.equals(KVMEventName.hypercall) {
            try expect("HVC at ")
            let pc = try hex("the PC")
            try expect(" (r0: ")
            let x0 = try hex("x0")
            try expect(", imm: ")
            let immediate = try hex("the immediate")
            try expect(")")
            try end()
            return .hypercall(pc: pc, x0: x0, immediate: immediate)
        }
        if name.equals(KVMEventName.mmio) {
            try expect("mmio ")
            let kind: KVMEvent.MMIOKind
            if cursor.take("unsatisfied-read ") { kind = .unsatisfiedRead }
            else if cursor.take("read ") { kind = .read }
            else if cursor.take("write ") { kind = .write }
            else { throw fail("read, write or unsatisfied-read") }
            try expect("len ")
            let length = try decimal("the length")
            try expect(" gpa ")
            let gpa = try hex("the guest physical address")
            try expect(" val ")
            let value = try hex("the value")
            try end()
            return .mmio(kind: kind, length: length, gpa: gpa, value: value)
        }
        if name.equals(KVMEventName.wait) {
            try expect("guest executed wf")
            let isWFE: Bool?
            if cursor.take("e") { isWFE = true } else if cursor.take("i") { isWFE = false } else if cursor.take(">c<") { isWFE = nil }
            else { throw fail("'i' or 'e'") }
            try expect(" at: ")
            let pc = try hex("the PC")
            try end()
            return .wait(isWFE: isWFE, pc: pc)
        }
        if name.equals(KVMEventName.userspaceExit) {
            try expect("reason ")
            let failed = cursor.starts(with: "restart ") || cursor.starts(with: "error ")
            while let byte = cursor.current, byte != 0x20 { cursor.index += 1 }
            try expect(" (")
            let reason = try decimal("the exit reason")
            try expect(")")
            try end()
            return .userspaceExit(reason: reason, failed: failed)
        }
        if name.equals(KVMEventName.guestFault) {
            try expect("ipa ")
            let ipa = try hex("the IPA")
            try expect(", hsr ")
            let esr = try hex("ESR_EL2")
            try expect(", hxfar ")
            let far = try hex("FAR_EL2")
            try expect(", pc ")
            let pc = try hex("the PC")
            try end()
            return .guestFault(ipa: ipa, esr: esr, far: far, pc: pc)
        }
        if name.equals(KVMEventName.sysregTrap) {
            try expect("HSR ")
            let esr = try hex("ESR_EL2")
            try end()
            return .sysregTrap(esr: esr)
        }
        if name.equals(KVMEventName.sysregAccess) {
            try expect("PC: ")
            _ = try hex("the PC")
            try expect(" ")
            while let byte = cursor.current, byte != UInt8(ascii: "(") { cursor.index += 1 }
            try expect("(")
            var parts: [UInt8] = []
            for index in 0..<5 {
                let value = try decimal("an encoding field")
                guard value < 16 else { throw fail("an encoding field below 16") }
                parts.append(UInt8(value))
                if index < 4 { try expect(",") }
            }
            try expect(") ")
            let isWrite: Bool
            if cursor.take("write") { isWrite = true } else if cursor.take("read") { isWrite = false } else { throw fail("read or write") }
            try end()
            return .sysregAccess(op0: parts[0], op1: parts[1], crn: parts[2], crm: parts[3], op2: parts[4], isWrite: isWrite)
        }
        if name.equals(KVMEventName.wakeup) {
            let waited: Bool
            if cursor.take("wait ") { waited = true } else if cursor.take("poll ") { waited = false } else { throw fail("wait or poll") }
            try expect("time ")
            let nanoseconds = try decimal("the time")
            try expect(" ns, polling ")
            _ = cursor.word()
            try end()
            return .wakeup(waited: waited, nanoseconds: nanoseconds)
        }
        if name.equals(KVMEventName.interruptPending) {
            try expect("VCPU: ")
            let vcpu = try decimal("the vCPU")
            try expect(", IRQ ")
            let intid = try decimal("the INTID")
            try expect(", level: ")
            let level = try decimal("the level")
            try end()
            return .interruptPending(vcpu: vcpu, intid: intid, level: level != 0)
        }
        return nil
    }

    /// trace-cmd's kvm plugin output for fields arm64 does not have (see the file comment).
    static func skipPluginArtifacts(_ cursor: inout LineCursor) {
        while true {
            if cursor.take("CAN'T FIND FIELD \"") {
                while let byte = cursor.current, byte != UInt8(ascii: "\"") { cursor.index += 1 }
                _ = cursor.take("\"")
            } else if cursor.take("<CANT FIND FIELD ") {
                while let byte = cursor.current, byte != UInt8(ascii: ">") { cursor.index += 1 }
                _ = cursor.take(">")
            } else {
                return
            }
        }
    }
}

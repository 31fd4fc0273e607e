// Turns KVM's trace events into our catalogue, per vCPU thread: kvm_exit opens an exit (reason
// from the EC), the events of that thread until its next kvm_entry are what the exit did, and
// kvm_entry returns to the guest. So an exit's latency is KVM's kvm_exit → kvm_entry of that
// thread, whichever CPU the thread ran on in between (a KVM exit can sleep in WFI or go out to
// the VMM and come back on another CPU). Each vCPU thread is one ring of the .hvt file.

/// A vCPU: VM index and vCPU index, as the .hvt file numbers them (`exitEntry.vcpu` = vm << 8 | index).
struct VCPUKey: Hashable, Comparable {
    var vm: UInt8
    var index: UInt8
    var packed: UInt16 { UInt16(vm) << 8 | UInt16(index) }
    static func < (a: VCPUKey, b: VCPUKey) -> Bool { a.packed < b.packed }
}

/// A thread of the capture that ran a vCPU (it has kvm_exit or kvm_entry events).
public struct ImportedVCPU: Equatable, Sendable {
    public var pid: Int32
    public var comm: String
    public var tgid: Int32?
    public var vm: UInt8
    public var index: UInt8
    /// The ring (the .hvt "CPU") its events are in.
    public var ring: Int
}

/// Which thread is which vCPU, decided when a thread first shows kvm_exit/kvm_entry: QEMU's (and
/// hvtrace-vmm's) vCPU threads are named `CPU n/KVM`, so n is the vCPU index; others get the next
/// free index in order of appearance. Threads of different processes (tgid, with record-tgid) are
/// different VMs; without tgids, a second thread with a name already taken starts the next VM.
final class VCPUTable {
    private(set) var byPID: [Int32: VCPUKey] = [:]
    private(set) var byKey: [VCPUKey: Int32] = [:]
    private(set) var order: [(pid: Int32, comm: String, tgid: Int32?)] = []
    private var vmOfTGID: [Int32: UInt8] = [:]

    /// The thread's vCPU, assigning one the first time.
    func key(pid: Int32, comm: UnsafeBufferPointer<UInt8>, tgid: Int32?) -> VCPUKey {
        if let key = byPID[pid] { return key }
        let name = comm.text
        let named = Self.qemuVCPUIndex(name)
        var vm: UInt8 = 0
        if let tgid {
            if let known = vmOfTGID[tgid] { vm = known } else {
                vm = UInt8(min(vmOfTGID.count, 255))
                vmOfTGID[tgid] = vm
            }
        } else if let named {
            while byKey[VCPUKey(vm: vm, index: named)] != nil && vm < 255 { vm += 1 }
        }
        var index = named ?? 0
        if named == nil { while byKey[VCPUKey(vm: vm, index: index)] != nil && index < 255 { index += 1 } }
        let key = VCPUKey(vm: vm, index: index)
        byPID[pid] = key
        byKey[key] = pid
        order.append((pid, name, tgid))
        return key
    }

    /// n of a `CPU n/KVM` thread name.
    static func qemuVCPUIndex(_ name: String) -> UInt8? {
        guard name.hasPrefix("CPU "), name.hasSuffix("/KVM") else { return nil }
        return UInt8(name.dropFirst(4).dropLast(4))
    }

    /// Rings in vCPU order.
    var vcpus: [ImportedVCPU] {
        let sorted = order.sorted { byPID[$0.pid]! < byPID[$1.pid]! }
        return sorted.enumerated().map { ring, thread in
            let key = byPID[thread.pid]!
            return ImportedVCPU(pid: thread.pid, comm: thread.comm, tgid: thread.tgid, vm: key.vm, index: key.index, ring: ring)
        }
    }
}

/// Where the assembler's events go.
protocol ImportedEventSink {
    mutating func record(_ event: TraceEvent, vcpu: VCPUKey, timestamp: UInt64)
    /// Events were lost on `vcpu`'s ring before its next event: a `lost_events` record starts a new page.
    mutating func lost(_ count: UInt64, vcpu: VCPUKey, timestamp: UInt64)
}

/// The state machine of one capture.
struct ExitAssembler<Sink: ImportedEventSink> {
    /// One vCPU thread's exit in progress.
    struct VCPUState {
        var key: VCPUKey
        var lastTimestamp: UInt64 = 0
        var started = false
        var inExit = false
        var lastCPU = -1
        var lastLine = 0
        /// A kvm_guest_fault waiting to learn whether a kvm_mmio follows (emulated MMIO) or not (mapped).
        var pendingFault: (timestamp: UInt64, ipa: UInt64, access: AccessInfo)?
        var inUserspace = false
        var inWait = false
        var sysregSeen = false
    }

    var sink: Sink
    let table: VCPUTable
    var diagnostics: ImportDiagnostics
    private var states: [VCPUKey: VCPUState] = [:]
    /// Events overwritten before the capture was read: written into the first ring when its first
    /// event arrives.
    var pendingOverwritten: UInt64 = 0
    var exits: UInt64 = 0
    var recordsWritten: UInt64 = 0

    init(sink: Sink, table: VCPUTable, diagnostics: ImportDiagnostics) {
        self.sink = sink
        self.table = table
        self.diagnostics = diagnostics
    }

    /// Registers the thread of an exit or entry as a vCPU (before its state is needed).
    mutating func vcpu(pid: Int32, comm: UnsafeBufferPointer<UInt8>, tgid: Int32?) -> VCPUKey {
        let key = table.key(pid: pid, comm: comm, tgid: tgid)
        if states[key] == nil { states[key] = VCPUState(key: key) }
        return key
    }

    private mutating func emit(_ event: TraceEvent, _ state: inout VCPUState, _ timestamp: UInt64) {
        if pendingOverwritten > 0 {
            sink.lost(pendingOverwritten, vcpu: state.key, timestamp: timestamp)
            pendingOverwritten = 0
        }
        sink.record(event, vcpu: state.key, timestamp: timestamp)
        recordsWritten += 1
    }

    /// The vCPU's clock: never backwards (a thread that moved to a CPU whose clock is behind).
    private mutating func advance(_ state: inout VCPUState, to raw: UInt64) -> UInt64 {
        if state.started && raw < state.lastTimestamp {
            diagnostics.count(.nonMonotonicTimestamps)
            return state.lastTimestamp
        }
        state.started = true
        state.lastTimestamp = raw
        return raw
    }

    /// A kvm_guest_fault still open: its outcome is now known.
    private mutating func settleFault(_ state: inout VCPUState, emulated: Bool) {
        guard let fault = state.pendingFault else { return }
        state.pendingFault = nil
        emit(.stage2Fault(ipa: fault.ipa, access: fault.access, outcome: emulated ? .emulatedMMIO : .mappedOnDemand),
             &state, fault.timestamp)
    }

    /// Leaves the userspace and WFI-wait spans still open at `timestamp`.
    private mutating func closeSpans(_ state: inout VCPUState, at timestamp: UInt64) {
        if state.inUserspace {
            state.inUserspace = false
            emit(.spanLeave(phase: HandlerPhase.userspace.rawValue), &state, timestamp)
        }
        if state.inWait {
            state.inWait = false
            emit(.spanLeave(phase: HandlerPhase.wfx.rawValue), &state, timestamp)
        }
    }

    /// One mapped event of thread `pid` (a vCPU thread, or any thread for vgic updates).
    mutating func handle(_ event: KVMEvent, pid: Int32, comm: UnsafeBufferPointer<UInt8>, tgid: Int32?, cpu: Int,
                         timestamp raw: UInt64, line: Int) {
        // vgic updates name their vCPU and come from any context (timer interrupts, other threads).
        if case let .interruptPending(vcpuNumber, intid, level) = event {
            let vm = table.byPID[pid]?.vm ?? 0
            let target = VCPUKey(vm: vm, index: UInt8(min(vcpuNumber, 255)))
            guard level, vcpuNumber < 256, intid <= UInt64(UInt16.max), var state = states[target], state.inExit else {
                diagnostics.count(.interruptUpdatesNotMapped)
                return
            }
            let timestamp = advance(&state, to: raw)
            emit(.virtualIRQ(intid: UInt16(intid), vcpu: target.packed), &state, timestamp)
            states[target] = state
            return
        }
        let key: VCPUKey
        switch event {
        case .exit, .entry: key = vcpu(pid: pid, comm: comm, tgid: tgid)
        default:
            // What a thread does outside an exit of its own is no exit's work (our traces never
            // have such events either).
            guard let known = table.byPID[pid], states[known]?.inExit == true else {
                diagnostics.count(.eventsOutsideExits)
                return
            }
            key = known
        }
        var state = states[key]!
        let timestamp = advance(&state, to: raw)
        state.lastCPU = cpu
        state.lastLine = line
        // The first event back from userspace ends the userspace span.
        if state.inUserspace, case .userspaceExit = event {} else if state.inUserspace {
            state.inUserspace = false
            emit(.spanLeave(phase: HandlerPhase.userspace.rawValue), &state, timestamp)
        }
        switch event {
        case let .exit(type, ec, pc):
            settleFault(&state, emulated: false)
            closeSpans(&state, at: timestamp)
            let reason: UInt8
            switch type {
            case .trap: reason = ec ?? ExceptionClass.unknown.rawValue
            case .irq: reason = AsynchronousExit.irq.rawValue
            case .serror: reason = AsynchronousExit.serror.rawValue
            case .illegalReturn: reason = ExceptionClass.illegalState.rawValue
            case .other: reason = ExceptionClass.unknown.rawValue
            case .hypervisorGone:
                diagnostics.count(.hypervisorGoneExits)
                states[key] = state
                return
            }
            exits += 1
            state.inExit = true
            state.sysregSeen = false
            emit(.exitEntry(ec: reason, iss: 0, vcpu: key.packed), &state, timestamp)
            if let pc { emit(ImportedGuestPC.event(pc), &state, timestamp) }
        case .entry:
            settleFault(&state, emulated: false)
            closeSpans(&state, at: timestamp)
            state.inExit = false
            emit(.exitReturn, &state, timestamp)
        case let .guestFault(ipa, esr, far, _):
            settleFault(&state, emulated: false)
            // ESR_EL2.ISS for data aborts (Arm ARM D17.2.37): ISV 24, SAS 23:22, SSE 21, WnR 6.
            let isDataAbort = (esr >> 26) & 0x3F == UInt64(ExceptionClass.dataAbortLower.rawValue)
            let access = AccessInfo(sizeLog2: UInt8((esr >> 22) & 3), isWrite: isDataAbort && esr & (1 << 6) != 0,
                                    syndromeValid: esr & (1 << 24) != 0, signExtend: esr & (1 << 21) != 0)
            state.pendingFault = (timestamp, (ipa & ~0xFFF) | (far & 0xFFF), access)
        case let .mmio(kind, length, gpa, value):
            settleFault(&state, emulated: true)
            guard kind != .unsatisfiedRead else { break }  // its completion ("read") follows with the value
            let (device, offset) = ImportedDevices.classify(gpa)
            let sizeLog2: UInt8 = length >= 8 ? 3 : length >= 4 ? 2 : length >= 2 ? 1 : 0
            emit(.mmioAccess(device: device, offset: offset, access: AccessInfo(sizeLog2: sizeLog2, isWrite: kind == .write),
                             value: value), &state, timestamp)
        case let .hypercall(_, x0, immediate):
            settleFault(&state, emulated: false)
            emit(.hypercall(conduit: .hvc, immediate: UInt16(truncatingIfNeeded: immediate),
                            functionID: UInt32(truncatingIfNeeded: x0)), &state, timestamp)
        case let .wait(isWFE, _):
            if let isWFE { emit(.waitForInterrupt(isWFE ? .wfe : .wfi), &state, timestamp) } else { diagnostics.count(.waitKindUnknown) }
            if state.inExit && !state.inWait {
                state.inWait = true
                emit(.spanEnter(phase: HandlerPhase.wfx.rawValue), &state, timestamp)
            }
        case .wakeup:
            if state.inWait {
                state.inWait = false
                emit(.spanLeave(phase: HandlerPhase.wfx.rawValue), &state, timestamp)
            }
        case let .userspaceExit(_, failed):
            settleFault(&state, emulated: false)
            if state.inExit && !failed && !state.inUserspace {
                state.inUserspace = true
                emit(.spanEnter(phase: HandlerPhase.userspace.rawValue), &state, timestamp)
            }
        case let .sysregTrap(esr):
            let (encoding, isWrite) = SysregEncoding.fromISS(UInt32(truncatingIfNeeded: esr & 0x1FF_FFFF))
            state.sysregSeen = true
            emit(.sysregTrap(encoding: encoding, isWrite: isWrite), &state, timestamp)
        case let .sysregAccess(op0, op1, crn, crm, op2, isWrite):
            if !state.sysregSeen {
                state.sysregSeen = true
                emit(.sysregTrap(encoding: SysregEncoding.make(op0: op0, op1: op1, crn: crn, crm: crm, op2: op2), isWrite: isWrite),
                     &state, timestamp)
            }
        case .interruptPending:
            break  // handled above
        }
        states[key] = state
    }

    /// ftrace dropped events on `cpu` (nil: unknown): the vCPU most recently seen there gets the
    /// count, every other vCPU last seen there (or every vCPU, CPU unknown) has its open exit cut
    /// (a lost_events record of 0), since its events may be among the lost ones.
    mutating func lost(_ count: UInt64, cpu: Int?) {
        diagnostics.count(.lostEvents, count)
        let affected = states.values.filter { cpu == nil || $0.lastCPU == cpu! }.sorted { $0.lastLine > $1.lastLine }
        guard !affected.isEmpty else {
            // Before any vCPU event: the loss comes first in the first ring.
            pendingOverwritten += count
            return
        }
        for (position, candidate) in affected.enumerated() {
            guard var state = states[candidate.key] else { continue }
            state.pendingFault = nil
            state.inExit = false
            state.inUserspace = false
            state.inWait = false
            sink.lost(position == 0 ? count : 0, vcpu: state.key, timestamp: state.lastTimestamp)
            states[candidate.key] = state
        }
    }
}

/// The devices of QEMU's virt board (hw/arm/virt.c, base_memmap) that KVM users' guests access,
/// plus the probe's test device; other addresses are `unknown` with the guest physical address
/// (low 32 bits) as the offset.
enum ImportedDevices {
    static let windows: [(base: UInt64, size: UInt64, device: MMIODevice)] = [
        (0x0800_0000, 0x1_0000, .gicDistributor),
        (0x0900_0000, 0x1000, .pl011),
        (0x0901_0000, 0x1000, .pl031),
        (0x0B00_0000, 0x1000, .probeDevice),
    ]

    static func classify(_ gpa: UInt64) -> (device: UInt8, offset: UInt32) {
        for window in windows where gpa >= window.base && gpa - window.base < window.size {
            return (window.device.rawValue, UInt32(gpa - window.base))
        }
        return (MMIODevice.unknown.rawValue, UInt32(truncatingIfNeeded: gpa))
    }
}

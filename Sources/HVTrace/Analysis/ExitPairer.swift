// Exit pairing: turns each CPU's event order into completed exits (entry → return on the same CPU
// ring), records what the handler did in between, and counts everything that does not pair.
//
// One vCPU runs on one pCPU at a time, and a CPU's ring holds its events in the order they happened,
// so pairing needs only per-CPU order: no global merge across CPUs. The hot path (`consume`) keeps a
// fixed-size state per CPU and allocates nothing.

/// What the handler did during one exit, filled in from the events between entry and return.
public struct ExitDetails: Equatable, Sendable {
    /// Which of the optional fields below were seen (bits: `hypercall`, `device`, …).
    public var present: UInt8 = 0
    /// SMCCC function id of the first `hypercall` event.
    public var functionID: UInt32 = 0
    /// `MMIODevice` raw value of the first `mmioAccess` event.
    public var device: UInt8 = 0
    /// Offset inside the device of that first `mmioAccess` event.
    public var deviceOffset: UInt32 = 0
    /// `Stage2Outcome` raw value of the first `stage2Fault` event.
    public var stage2Outcome: UInt8 = 0
    /// INTID of the first `physicalIRQ` event.
    public var intid: UInt16 = 0
    /// `SysregEncoding` key of the trapped register (from `sysregTrap`, or from ISS for EC 0x18).
    public var sysreg: UInt16 = 0

    public static let hypercall: UInt8 = 1 << 0
    public static let device: UInt8 = 1 << 1
    public static let stage2: UInt8 = 1 << 2
    public static let interrupt: UInt8 = 1 << 3
    public static let sysregister: UInt8 = 1 << 4

    @inline(__always)
    public func has(_ bit: UInt8) -> Bool { present & bit != 0 }

    public init() {}
}

/// One exit whose entry and return were both seen on the same CPU.
public struct PairedExit: Equatable, Sendable {
    public var cpu: UInt16
    /// VM index (0-based) in bits 15:8, vCPU index in bits 7:0 (as in `exitEntry`).
    public var vcpu: UInt16
    public var reason: ExitReason
    public var entryTimestamp: UInt64
    /// Return timestamp minus entry timestamp, in record-clock ticks.
    public var latency: UInt64
    public var details: ExitDetails

    public init(cpu: UInt16, vcpu: UInt16, reason: ExitReason, entryTimestamp: UInt64, latency: UInt64,
                details: ExitDetails = ExitDetails()) {
        self.cpu = cpu
        self.vcpu = vcpu
        self.reason = reason
        self.entryTimestamp = entryTimestamp
        self.latency = latency
        self.details = details
    }
}

/// The kinds of handler detail a flame stack can end in.
public enum ExitDetailKind: Sendable {
    case hypercall, device, interrupt, sysreg

    /// A `.device` detail's value: the `MMIODevice` raw value in bits 7:0, the offset inside the
    /// device in bits 31:8 (its low 24 bits: every device window is far smaller).
    @inlinable @inline(__always)
    public static func deviceValue(device: UInt8, offset: UInt32) -> UInt32 { UInt32(device) | offset << 8 }
}

/// Receives the pairer's findings. Every method has an empty default, so a sink implements only what
/// it needs; the pairer is generic over its sink, so the calls are specialised and inlined.
public protocol ExitSink {
    /// An exit entry opened an exit on `cpu`.
    mutating func exitBegan(cpu: Int, reason: ExitReason, timestamp: UInt64)
    /// A `waitForInterrupt` event changed a WFx exit's reason (its ISS.TI disagreed).
    mutating func exitReasonRefined(cpu: Int, reason: ExitReason)
    /// A span enter or leave inside an open exit.
    mutating func phaseEntered(cpu: Int, phase: UInt8, timestamp: UInt64)
    mutating func phaseLeft(cpu: Int, phase: UInt8, timestamp: UInt64)
    /// A handler event that names what the exit was about (`value` is the id, INTID, …).
    mutating func detailSeen(cpu: Int, kind: ExitDetailKind, value: UInt32)
    /// The open exit on `exit.cpu` returned.
    mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64)
    /// The open exit on `cpu` will never pair (lost data); forget what was collected for it.
    mutating func exitAbandoned(cpu: Int)
    /// A guest marker on `cpu`; `vcpu` is the vCPU of the CPU's open (or last) exit.
    mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64)
    /// A `lostEvents` record: the producer of `cpu` dropped `count` events before `timestamp`.
    mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64)
}

extension ExitSink {
    @inline(__always) public mutating func exitBegan(cpu: Int, reason: ExitReason, timestamp: UInt64) {}
    @inline(__always) public mutating func exitReasonRefined(cpu: Int, reason: ExitReason) {}
    @inline(__always) public mutating func phaseEntered(cpu: Int, phase: UInt8, timestamp: UInt64) {}
    @inline(__always) public mutating func phaseLeft(cpu: Int, phase: UInt8, timestamp: UInt64) {}
    @inline(__always) public mutating func detailSeen(cpu: Int, kind: ExitDetailKind, value: UInt32) {}
    @inline(__always) public mutating func exitAbandoned(cpu: Int) {}
    @inline(__always) public mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64) {}
    @inline(__always) public mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64) {}
}

/// Counts of everything that did not pair, and why. Nothing is dropped without being counted here.
public struct PairingDiagnostics: Equatable, Sendable, Codable {
    /// Events consumed (every record, `lostEvents` included).
    public var events: UInt64 = 0
    /// Exits whose entry and return were both seen.
    public var pairedExits: UInt64 = 0
    /// An entry followed by another entry on the same CPU: the first exit's return was lost.
    public var entriesFollowedByEntry: UInt64 = 0
    /// An entry still open when a `lostEvents` record or a page-sequence gap arrived.
    public var entriesCutByLostData: UInt64 = 0
    /// An entry still open at the end of the trace.
    public var entriesOpenAtEnd: UInt64 = 0
    /// A return with no open entry on its CPU: the entry was lost (or the trace began mid-exit).
    public var returnsWithoutEntry: UInt64 = 0
    /// Sum of the counts in `lostEvents` records: events the producer dropped (saturating).
    public var lostEvents: UInt64 = 0
    /// Handler events (hypercall, mmio, …) seen while no exit was open on their CPU.
    public var eventsOutsideExits: UInt64 = 0
    /// Events whose timestamp was earlier than the previous one on the same CPU (clamped to it).
    public var nonMonotonicTimestamps: UInt64 = 0

    public init() {}

    /// Entries that never found their return.
    public var unmatchedEntries: UInt64 { entriesFollowedByEntry + entriesCutByLostData + entriesOpenAtEnd }
    /// Returns that never found their entry.
    public var unmatchedReturns: UInt64 { returnsWithoutEntry }
}

/// Pairs exit entries with returns per CPU and feeds completed exits to a sink.
public struct ExitPairer<Sink: ExitSink> {
    /// The in-progress exit of one CPU.
    @usableFromInline struct CPUState {
        @usableFromInline var isOpen = false
        @usableFromInline var lastTimestamp: UInt64 = 0
        @usableFromInline var exit = PairedExit(cpu: 0, vcpu: 0, reason: ExitReason(rawValue: 0),
                                                entryTimestamp: 0, latency: 0)
        @usableFromInline init() {}
    }

    public var sink: Sink
    public var diagnostics: PairingDiagnostics { counters }
    /// Earliest and latest timestamps seen on any CPU (the trace's span); `firstTimestamp > lastTimestamp`
    /// while nothing was consumed.
    public var firstTimestamp: UInt64 { earliest }
    public var lastTimestamp: UInt64 { latest }
    @usableFromInline var counters = PairingDiagnostics()
    @usableFromInline var earliest: UInt64 = .max
    @usableFromInline var latest: UInt64 = 0
    @usableFromInline var cpus: [CPUState]

    public init(sink: Sink, cpuCount: Int = 1) {
        self.sink = sink
        self.cpus = Array(repeating: CPUState(), count: max(1, cpuCount))
    }

    /// CPUs that have state (grows when an event names a larger CPU index).
    public var cpuCount: Int { cpus.count }

    /// Consumes one event of `cpu`'s ring. Events of one CPU must come in ring order; CPUs may interleave.
    @inlinable
    public mutating func consume(_ event: TraceEvent, timestamp: UInt64, cpu: Int) {
        var run = beginRun(cpu: cpu)
        consume(event, timestamp: timestamp, in: &run)
        endRun(run)
    }

    /// One CPU's state taken out of the pairer for a run of that CPU's events (a page): the hot
    /// loop then works on a local instead of indexing (and uniqueness-checking) the per-CPU array
    /// for every event. Hand it back with `endRun` before consuming events of the same CPU otherwise.
    public struct Run {
        @usableFromInline let cpu: Int
        @usableFromInline var state: CPUState
        /// Events consumed in this run (added to the pairer's count by `endRun`, so the hot loop
        /// counts in a register).
        @usableFromInline var events: UInt64 = 0

        @inlinable
        init(cpu: Int, state: CPUState) {
            self.cpu = cpu
            self.state = state
        }
    }

    /// Starts a run of events of `cpu` (see `Run`).
    @inlinable
    public mutating func beginRun(cpu: Int) -> Run {
        if _slowPath(cpu >= cpus.count) { cpus += Array(repeating: CPUState(), count: cpu + 1 - cpus.count) }
        return Run(cpu: cpu, state: cpus[cpu])
    }

    /// Stores a run's CPU state back and folds its counts into the pairer's.
    @inlinable
    public mutating func endRun(_ run: Run) {
        cpus[run.cpu] = run.state
        if run.events > 0 {
            counters.events &+= run.events
            // A CPU's timestamps never go back (they are clamped), so its last one is its latest.
            if run.state.lastTimestamp > latest { latest = run.state.lastTimestamp }
        }
    }

    /// Consumes the next event of `run`'s CPU.
    @inlinable @inline(__always)
    public mutating func consume(_ event: TraceEvent, timestamp rawTimestamp: UInt64, in run: inout Run) {
        let cpu = run.cpu
        run.events &+= 1
        var timestamp = rawTimestamp
        if _slowPath(timestamp < run.state.lastTimestamp) {
            counters.nonMonotonicTimestamps &+= 1
            timestamp = run.state.lastTimestamp
        }
        run.state.lastTimestamp = timestamp
        if _slowPath(timestamp < earliest) { earliest = timestamp }

        switch event {
        case let .exitEntry(ec, iss, vcpu):
            if run.state.isOpen {
                counters.entriesFollowedByEntry &+= 1
                sink.exitAbandoned(cpu: cpu)
            }
            let reason = ExitReason(ec: ec, iss: iss)
            var details = ExitDetails()
            if ec == ExceptionClass.sysreg.rawValue {
                details.sysreg = SysregEncoding.fromISS(iss).encoding
                details.present = ExitDetails.sysregister
            }
            run.state.isOpen = true
            run.state.exit = PairedExit(cpu: UInt16(truncatingIfNeeded: cpu), vcpu: vcpu, reason: reason,
                                        entryTimestamp: timestamp, latency: 0, details: details)
            sink.exitBegan(cpu: cpu, reason: reason, timestamp: timestamp)
        case .exitReturn:
            guard run.state.isOpen else {
                counters.returnsWithoutEntry &+= 1
                return
            }
            run.state.isOpen = false
            run.state.exit.latency = timestamp - run.state.exit.entryTimestamp
            counters.pairedExits &+= 1
            sink.exitCompleted(run.state.exit, returnTimestamp: timestamp)
        case let .lostEvents(count):
            counters.lostEvents.addSaturating(count)
            cutOpenExit(&run)
            sink.eventsLost(cpu: cpu, count: count, timestamp: timestamp)
        case let .hypercall(_, _, functionID):
            guard isOpen(run) else { return }
            if !run.state.exit.details.has(ExitDetails.hypercall) {
                run.state.exit.details.functionID = functionID
                run.state.exit.details.present |= ExitDetails.hypercall
            }
            sink.detailSeen(cpu: cpu, kind: .hypercall, value: functionID)
        case let .stage2Fault(_, _, outcome):
            guard isOpen(run) else { return }
            if !run.state.exit.details.has(ExitDetails.stage2) {
                run.state.exit.details.stage2Outcome = outcome.rawValue
                run.state.exit.details.present |= ExitDetails.stage2
            }
        case let .mmioAccess(device, offset, _, _):
            guard isOpen(run) else { return }
            if !run.state.exit.details.has(ExitDetails.device) {
                run.state.exit.details.device = device
                run.state.exit.details.deviceOffset = offset
                run.state.exit.details.present |= ExitDetails.device
            }
            sink.detailSeen(cpu: cpu, kind: .device, value: ExitDetailKind.deviceValue(device: device, offset: offset))
        case let .physicalIRQ(intid):
            guard isOpen(run) else { return }
            if !run.state.exit.details.has(ExitDetails.interrupt) {
                run.state.exit.details.intid = intid
                run.state.exit.details.present |= ExitDetails.interrupt
            }
            sink.detailSeen(cpu: cpu, kind: .interrupt, value: UInt32(intid))
        case let .sysregTrap(encoding, _):
            guard isOpen(run) else { return }
            run.state.exit.details.sysreg = encoding
            run.state.exit.details.present |= ExitDetails.sysregister
            sink.detailSeen(cpu: cpu, kind: .sysreg, value: UInt32(encoding))
        case let .waitForInterrupt(kind):
            guard isOpen(run) else { return }
            let refined = ExitReason(waitKind: kind)
            if run.state.exit.reason.isWFx && run.state.exit.reason != refined {
                run.state.exit.reason = refined
                sink.exitReasonRefined(cpu: cpu, reason: refined)
            }
        case let .spanEnter(phase):
            guard isOpen(run) else { return }
            sink.phaseEntered(cpu: cpu, phase: phase, timestamp: timestamp)
        case let .spanLeave(phase):
            guard isOpen(run) else { return }
            sink.phaseLeft(cpu: cpu, phase: phase, timestamp: timestamp)
        case let .guestMarker(id, value):
            _ = isOpen(run)
            sink.markerSeen(cpu: cpu, vcpu: run.state.exit.vcpu, id: id, value: value, timestamp: timestamp)
        case .hypercallResult, .virtualIRQ, .guestPC:
            _ = isOpen(run)
        }
    }

    /// True if `run`'s CPU has an open exit; otherwise counts an event outside any exit.
    @inlinable @inline(__always)
    mutating func isOpen(_ run: Run) -> Bool {
        if run.state.isOpen { return true }
        counters.eventsOutsideExits &+= 1
        return false
    }

    /// Events of `cpu` were lost before the next one (a page-sequence gap, or a corrupt page that was
    /// skipped): an open exit cannot be trusted to pair any more.
    public mutating func noteDiscontinuity(cpu: Int) {
        guard cpu < cpus.count else { return }
        cutOpenExit(cpu: cpu)
    }

    @inlinable
    mutating func cutOpenExit(cpu: Int) {
        var run = Run(cpu: cpu, state: cpus[cpu])
        cutOpenExit(&run)
        endRun(run)
    }

    @inlinable
    mutating func cutOpenExit(_ run: inout Run) {
        if run.state.isOpen {
            run.state.isOpen = false
            counters.entriesCutByLostData &+= 1
            sink.exitAbandoned(cpu: run.cpu)
        }
    }

    /// Ends the trace: exits still open are counted as unmatched.
    public mutating func finish() {
        for cpu in cpus.indices where cpus[cpu].isOpen {
            cpus[cpu].isOpen = false
            counters.entriesOpenAtEnd &+= 1
            sink.exitAbandoned(cpu: cpu)
        }
    }

    /// Feeds a whole sequence of timed events (tests, and the merged `EventStream`).
    public mutating func consume<Events: Sequence<TimedEvent>>(_ events: Events) {
        for timed in events { consume(timed.event, timestamp: timed.timestamp, cpu: Int(timed.cpu)) }
    }
}

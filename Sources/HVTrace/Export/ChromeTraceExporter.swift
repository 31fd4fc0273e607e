// Chrome trace-event JSON ("JSON Object Format" of the Trace Event Format, read by Perfetto UI,
// chrome://tracing and speedscope). Layout:
//   - one process per VM (pid = VM index + 1, named vmN), one thread per vCPU (tid = VM·256 +
//     vCPU + 1, named vmN/vcpuM); every paired exit is a complete event (`ph: X`) named after its
//     reason on its vCPU's thread, with its handler phases as complete events nested inside it;
//   - guest markers are thread-scoped instants (`ph: i`, `s: t`) on the vCPU that emitted them,
//     unmatched exits (entry without return) thread-scoped instants at their entry;
//   - the process "hypervisor" (pid 1000) holds one counter track per physical CPU of exits/s and
//     of p99 exit latency (ns) per time bucket, and a global instant per `lost_events` record.
// Times are microseconds of the trace clock (`ts`, `dur`, three decimals: nanosecond resolution);
// `displayTimeUnit` is ns. Events are written as exits complete (viewers sort them).

/// An `ExitSink` that streams Chrome trace events into a file.
public struct ChromeTraceExporter: ExitSink {
    /// One phase of the open exit.
    struct Phase {
        var phase: UInt8
        var enter: UInt64
        var leave: UInt64?
        var depth: Int
    }

    struct CPUState {
        var phases: [Phase] = []
        var open: [Int] = []
        var entry: UInt64 = 0
        var reason = ExitReason(rawValue: 0)
    }

    static let hypervisorPID = 1000

    let file: AtomicOutputFile
    let frequency: UInt64
    let header: TraceFileHeader
    var cpus: [CPUState] = []
    var threads: Set<UInt16> = []
    public private(set) var eventsWritten: UInt64 = 0
    var needsComma = false

    public init(file: AtomicOutputFile, header: TraceFileHeader) {
        self.file = file
        self.header = header
        frequency = max(1, header.region.clockFrequency)
        file.write("{\"traceEvents\":[\n")
    }

    func microseconds(_ ticks: UInt64) -> String { TickUnits.decimal(ticks, frequency: frequency, exponent: 6) }

    static func pid(_ vcpu: UInt16) -> Int { Int(vcpu >> 8) + 1 }
    static func tid(_ vcpu: UInt16) -> Int { Int(vcpu >> 8) * 256 + Int(vcpu & 0xFF) + 1 }

    mutating func emit(_ event: String) {
        file.write(needsComma ? ",\n" + event : event)
        needsComma = true
        eventsWritten &+= 1
    }

    @inline(__always)
    mutating func ensure(cpu: Int) {
        if _slowPath(cpu >= cpus.count) { cpus += Array(repeating: CPUState(), count: cpu + 1 - cpus.count) }
    }

    public mutating func exitBegan(cpu: Int, reason: ExitReason, timestamp: UInt64) {
        ensure(cpu: cpu)
        cpus[cpu].phases.removeAll(keepingCapacity: true)
        cpus[cpu].open.removeAll(keepingCapacity: true)
        cpus[cpu].entry = timestamp
        cpus[cpu].reason = reason
    }

    public mutating func exitReasonRefined(cpu: Int, reason: ExitReason) { cpus[cpu].reason = reason }

    public mutating func phaseEntered(cpu: Int, phase: UInt8, timestamp: UInt64) {
        guard cpus[cpu].open.count < FlameBuilder.maximumSpanDepth else { return }
        cpus[cpu].open.append(cpus[cpu].phases.count)
        cpus[cpu].phases.append(Phase(phase: phase, enter: timestamp, leave: nil, depth: cpus[cpu].open.count))
    }

    public mutating func phaseLeft(cpu: Int, phase: UInt8, timestamp: UInt64) {
        // Close up to the innermost open span of this phase (a stray leave closes nothing).
        guard let position = cpus[cpu].open.lastIndex(where: { cpus[cpu].phases[$0].phase == phase }) else { return }
        for index in cpus[cpu].open[position...] { cpus[cpu].phases[index].leave = timestamp }
        cpus[cpu].open.removeSubrange(position...)
    }

    public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        let cpu = Int(exit.cpu)
        ensure(cpu: cpu)
        threads.insert(exit.vcpu)
        let pid = Self.pid(exit.vcpu), tid = Self.tid(exit.vcpu)
        let detail = exit.detailLabel
        var args = "\"cpu\":\(exit.cpu),\"latency_ns\":\(TickUnits.decimal(exit.latency, frequency: frequency, exponent: 9))"
        if !detail.isEmpty { args += ",\"detail\":" + JSONText.string(detail) }
        emit("{\"name\":\(JSONText.string(exit.reason.name)),\"cat\":\"exit\",\"ph\":\"X\",\"ts\":\(microseconds(exit.entryTimestamp)),"
             + "\"dur\":\(microseconds(exit.latency)),\"pid\":\(pid),\"tid\":\(tid),\"args\":{\(args)}}")
        for phase in cpus[cpu].phases {
            let leave = min(phase.leave ?? returnTimestamp, returnTimestamp)
            let name = HandlerPhase(rawValue: phase.phase).map { $0.name.description } ?? "phase_\(phase.phase)"
            emit("{\"name\":\(JSONText.string(name)),\"cat\":\"phase\",\"ph\":\"X\",\"ts\":\(microseconds(phase.enter)),"
                 + "\"dur\":\(microseconds(leave - phase.enter)),\"pid\":\(pid),\"tid\":\(tid),\"args\":{\"depth\":\(phase.depth)}}")
        }
        cpus[cpu].phases.removeAll(keepingCapacity: true)
        cpus[cpu].open.removeAll(keepingCapacity: true)
    }

    public mutating func exitAbandoned(cpu: Int) {
        ensure(cpu: cpu)
        emit("{\"name\":\(JSONText.string("unmatched " + cpus[cpu].reason.name)),\"cat\":\"data_loss\",\"ph\":\"i\",\"s\":\"g\","
             + "\"ts\":\(microseconds(cpus[cpu].entry)),\"pid\":\(Self.hypervisorPID),\"tid\":\(cpu + 1),"
             + "\"args\":{\"cpu\":\(cpu),\"why\":\"entry without a return (lost or cut data)\"}}")
        cpus[cpu].phases.removeAll(keepingCapacity: true)
        cpus[cpu].open.removeAll(keepingCapacity: true)
    }

    public mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64) {
        threads.insert(vcpu)
        emit("{\"name\":\"marker \(id)\",\"cat\":\"marker\",\"ph\":\"i\",\"s\":\"t\",\"ts\":\(microseconds(timestamp)),"
             + "\"pid\":\(Self.pid(vcpu)),\"tid\":\(Self.tid(vcpu)),\"args\":{\"id\":\(id),\"value\":\(value),\"cpu\":\(cpu)}}")
    }

    public mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64) {
        emit("{\"name\":\"lost \(count) events\",\"cat\":\"data_loss\",\"ph\":\"i\",\"s\":\"g\",\"ts\":\(microseconds(timestamp)),"
             + "\"pid\":\(Self.hypervisorPID),\"tid\":\(cpu + 1),\"args\":{\"cpu\":\(cpu),\"count\":\(count)}}")
    }

    /// Writes the counter tracks, the process and thread names and the closing metadata.
    public mutating func finish(timeline: Timeline, pairing: PairingDiagnostics, source: String) {
        let bucketTicks = timeline.bucketTicks
        for (cpu, buckets) in timeline.cpus.enumerated() where !buckets.isEmpty {
            for (index, bucket) in buckets.enumerated() {
                let start = timeline.origin + UInt64(index) * bucketTicks
                let rate = Double(bucket.exits) / timeline.bucketSeconds
                emit("{\"name\":\"cpu\(cpu) exits/s\",\"ph\":\"C\",\"ts\":\(microseconds(start)),\"pid\":\(Self.hypervisorPID),"
                     + "\"args\":{\"exits/s\":\(JSONText.number(rate))}}")
                let p99 = TickUnits.decimal(bucket.latencies.value(at: .p99), frequency: frequency, exponent: 9)
                emit("{\"name\":\"cpu\(cpu) p99 exit latency (ns)\",\"ph\":\"C\",\"ts\":\(microseconds(start)),\"pid\":\(Self.hypervisorPID),"
                     + "\"args\":{\"ns\":\(p99)}}")
            }
        }
        emit("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(Self.hypervisorPID),\"args\":{\"name\":\"hypervisor (physical CPUs)\"}}")
        emit("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":\(Self.hypervisorPID),\"args\":{\"sort_index\":0}}")
        for cpu in timeline.cpus.indices {
            emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(Self.hypervisorPID),\"tid\":\(cpu + 1),\"args\":{\"name\":\"cpu\(cpu)\"}}")
        }
        for vm in Set(threads.map { $0 >> 8 }).sorted() {
            emit("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":\(Int(vm) + 1),\"args\":{\"name\":\"vm\(vm)\"}}")
            emit("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":\(Int(vm) + 1),\"args\":{\"sort_index\":\(Int(vm) + 1)}}")
        }
        for vcpu in threads.sorted() {
            let tid = Self.tid(vcpu)
            emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":\(Self.pid(vcpu)),\"tid\":\(tid),"
                 + "\"args\":{\"name\":\"vm\(vcpu >> 8)/vcpu\(vcpu & 0xFF)\"}}")
            emit("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":\(Self.pid(vcpu)),\"tid\":\(tid),\"args\":{\"sort_index\":\(tid)}}")
        }
        file.write("\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{")
        let other: [(String, String)] = [
            ("source", source), ("generator", "hvtrace export --format chrome"), ("guest", header.guestName),
            ("clock_hz", String(frequency)), ("paired_exits", String(pairing.pairedExits)),
            ("unmatched_entries", String(pairing.unmatchedEntries)), ("unmatched_returns", String(pairing.unmatchedReturns)),
            ("lost_events", String(pairing.lostEvents)),
        ]
        file.write(other.map { JSONText.string($0.0) + ":" + JSONText.string($0.1) }.joined(separator: ","))
        file.write("}}\n")
    }
}

/// JSON literals.
enum JSONText {
    /// `text` as a JSON string literal.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A finite number (JSON has no NaN or infinity: those become 0).
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

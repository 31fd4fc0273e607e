// Two analyses in one pass over a trace: a sink that hands every finding to both of its parts
// (nest pairs for more). The pairer is generic over its sink, so the calls stay specialised.

/// An `ExitSink` that forwards every call to `first`, then to `second`.
public struct SinkPair<First: ExitSink, Second: ExitSink>: ExitSink {
    public var first: First
    public var second: Second

    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    @inline(__always) public mutating func exitBegan(cpu: Int, reason: ExitReason, timestamp: UInt64) {
        first.exitBegan(cpu: cpu, reason: reason, timestamp: timestamp)
        second.exitBegan(cpu: cpu, reason: reason, timestamp: timestamp)
    }
    @inline(__always) public mutating func exitReasonRefined(cpu: Int, reason: ExitReason) {
        first.exitReasonRefined(cpu: cpu, reason: reason)
        second.exitReasonRefined(cpu: cpu, reason: reason)
    }
    @inline(__always) public mutating func phaseEntered(cpu: Int, phase: UInt8, timestamp: UInt64) {
        first.phaseEntered(cpu: cpu, phase: phase, timestamp: timestamp)
        second.phaseEntered(cpu: cpu, phase: phase, timestamp: timestamp)
    }
    @inline(__always) public mutating func phaseLeft(cpu: Int, phase: UInt8, timestamp: UInt64) {
        first.phaseLeft(cpu: cpu, phase: phase, timestamp: timestamp)
        second.phaseLeft(cpu: cpu, phase: phase, timestamp: timestamp)
    }
    @inline(__always) public mutating func detailSeen(cpu: Int, kind: ExitDetailKind, value: UInt32) {
        first.detailSeen(cpu: cpu, kind: kind, value: value)
        second.detailSeen(cpu: cpu, kind: kind, value: value)
    }
    @inline(__always) public mutating func exitCompleted(_ exit: PairedExit, returnTimestamp: UInt64) {
        first.exitCompleted(exit, returnTimestamp: returnTimestamp)
        second.exitCompleted(exit, returnTimestamp: returnTimestamp)
    }
    @inline(__always) public mutating func exitAbandoned(cpu: Int) {
        first.exitAbandoned(cpu: cpu)
        second.exitAbandoned(cpu: cpu)
    }
    @inline(__always) public mutating func markerSeen(cpu: Int, vcpu: UInt16, id: UInt32, value: UInt64, timestamp: UInt64) {
        first.markerSeen(cpu: cpu, vcpu: vcpu, id: id, value: value, timestamp: timestamp)
        second.markerSeen(cpu: cpu, vcpu: vcpu, id: id, value: value, timestamp: timestamp)
    }
    @inline(__always) public mutating func eventsLost(cpu: Int, count: UInt64, timestamp: UInt64) {
        first.eventsLost(cpu: cpu, count: count, timestamp: timestamp)
        second.eventsLost(cpu: cpu, count: count, timestamp: timestamp)
    }
}

// Saturating arithmetic for counters and totals that a damaged trace can drive to any value (a
// `lost_events` record may claim 2^63 events, a corrupt timestamp gives an exit of 2^64 − 1 ticks).
// Wrapping would turn two such values into a small, believable number; saturating keeps the total
// at `UInt64.max`, and every caller that saturates says so (the `counter_saturated` diagnostic,
// the report's `totals_saturated`, the flame graph's warning).

extension UInt64 {
    /// `self + other`, or `UInt64.max` when the sum does not fit.
    @inlinable @inline(__always)
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// Adds `other` to `self`, saturating; returns true when the sum did not fit (and saturated).
    @inlinable @inline(__always)
    @discardableResult
    public mutating func addSaturating(_ other: UInt64) -> Bool {
        let (sum, overflow) = addingReportingOverflow(other)
        self = overflow ? .max : sum
        return overflow
    }
}

extension Sequence where Element == UInt64 {
    /// The saturating sum of the elements.
    @inlinable
    public func saturatingSum() -> UInt64 { reduce(0) { $0.saturatingAdd($1) } }
}

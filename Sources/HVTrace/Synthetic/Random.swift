// A seeded random source and the latency distributions the synthetic traces draw from. Written
// here (not SystemRandomNumberGenerator) so that a seed reproduces a trace bit for bit everywhere.

/// xoshiro256** (Blackman & Vigna, 2018), seeded through SplitMix64 as its authors recommend.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in 0..<bound (Lemire's method is overkill here; modulo bias < 2^-40).
    public mutating func below(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }

    /// A standard normal deviate (Box–Muller; one of the pair is discarded to keep the state simple).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 0x1.0p-53), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long something takes, in nanoseconds.
public enum LatencyDistribution: Equatable, Sendable {
    /// Always the same.
    case constant(nanoseconds: Double)
    /// exp(N(ln median, sigma²)): the usual shape of handler latencies.
    case logNormal(medianNanoseconds: Double, sigma: Double)
    /// With probability `fastWeight` the first log-normal, else the second (cache hit/miss, fast/slow path).
    case bimodal(fast: Double, slow: Double, sigma: Double, fastWeight: Double)

    /// One sample in nanoseconds (at least 1).
    public func sample(_ random: inout Xoshiro256StarStar) -> Double {
        switch self {
        case let .constant(value):
            return max(1, value)
        case let .logNormal(median, sigma):
            return max(1, median * exp(sigma * random.normal()))
        case let .bimodal(fast, slow, sigma, fastWeight):
            let median = random.unit() < fastWeight ? fast : slow
            return max(1, median * exp(sigma * random.normal()))
        }
    }
}

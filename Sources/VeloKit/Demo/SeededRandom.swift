import VeloFormat
import VeloRepository
import VeloStorage

/// A small, fast, seedable generator (SplitMix64) so that the same seed always gives the same demo database.
package struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SeededRandom.mix(state)
    }

    /// The SplitMix64 finalizer: a good 64-bit hash of one value, used to derive ids from row numbers.
    package static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<bound without modulo bias worth caring about for demo data.
    package mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// True with probability `percent`/100.
    package mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same batches everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) {
        state = seed
    }

    /// Creates a generator for one stream of several keys (a seed and a step, say): the keys are
    /// mixed, so that neighbouring seeds do not give shifted copies of one sequence.
    public init(keys: UInt64...) {
        var state: UInt64 = 0
        for key in keys { state = Self.mix(state ^ Self.mix(key &+ 0x9E37_79B9_7F4A_7C15)) }
        self.state = state
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finalizer: a bijection that scatters nearby inputs.
    @inlinable
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Double in [0, 1).
    @inlinable
    public mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An approximately standard-normal value (sum of four uniforms, scaled): cheap and bounded.
    @inlinable
    public mutating func normal() -> Double {
        let bits = next()
        let a = Double(bits & 0xFFFF), b = Double((bits >> 16) & 0xFFFF)
        let c = Double((bits >> 32) & 0xFFFF), d = Double(bits >> 48)
        return ((a + b + c + d) / 65536.0 - 2.0) * 1.7320508075688772
    }
}

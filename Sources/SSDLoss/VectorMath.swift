/// `exp(x)` for eight float32 lanes at once, for `x ≤ 0` (the shifted logits of a log-softmax).
///
/// Range reduction `x = n ln 2 + r` with `|r| ≤ ln 2 / 2` and a degree-7 polynomial (the classic
/// Cephes `expf` coefficients): about 1 ulp. `exp(0)` is exactly 1. Lanes below −87 are clamped
/// there (≈ 1.6e−38), which cannot change a log-sum-exp whose largest term is 1.
@inline(__always)
func vectorExp(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let x = input.replacing(with: -87, where: input .< -87)
    // Adding 1.5 · 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    var r = x - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    // exp(r) ≈ 1 + r + r²·P(r), P of degree 5, evaluated by Estrin's scheme rather than
    // Horner's: three short independent chains instead of one of six multiply-adds, which
    // halves the latency the pass waits on (it has no other work to overlap with it).
    let r2 = r * r
    let r4 = r2 * r2
    let low = r * 1.666_666_55e-1 + 5.000_000_12e-1
    let middle = r * 8.333_451_9e-3 + 4.166_579_59e-2
    let high = r * 1.987_569_15e-4 + 1.398_199_95e-3
    let polynomial = (low + r2 * middle) + r4 * high
    let y = r2 * polynomial + r + 1
    let exponent = (bitLanes(shifted) &- bitLanes(magic) &+ 127) &<< 23
    return y * floatLanes(exponent)
}

/// The float32 lanes whose bits are `bits`.
@inline(__always)
func floatLanes(_ bits: SIMD8<UInt32>) -> SIMD8<Float> {
    unsafeBitCast(bits, to: SIMD8<Float>.self)
}

/// The bits of the float32 lanes `values`.
@inline(__always)
func bitLanes(_ values: SIMD8<Float>) -> SIMD8<UInt32> {
    unsafeBitCast(values, to: SIMD8<UInt32>.self)
}

/// The larger of each pair of lanes (either one when a lane is NaN).
@inline(__always)
func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: b .> a)
}

/// The largest lane, by halving (the generic reduction is not inlined).
@inline(__always)
func horizontalMax(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let two = four.lowHalf.replacing(with: four.highHalf, where: four.highHalf .> four.lowHalf)
    return Swift.max(two[0], two[1])
}

/// The sum of the lanes, by halving.
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The bitwise OR of the lanes, by halving.
@inline(__always)
func orOfLanes(_ v: SIMD8<UInt16>) -> UInt16 {
    let four = v.lowHalf | v.highHalf
    let two = four.lowHalf | four.highHalf
    return two[0] | two[1]
}

/// The bitwise OR of the lanes, by halving.
@inline(__always)
func orOfLanes(_ v: SIMD8<UInt32>) -> UInt32 {
    let four = v.lowHalf | v.highHalf
    let two = four.lowHalf | four.highHalf
    return two[0] | two[1]
}

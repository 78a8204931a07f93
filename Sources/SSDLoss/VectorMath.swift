/// `exp(x)` for eight float32 lanes at once, for `x ≤ 0` (the shifted logits of a log-softmax).
///
/// Range reduction `x = n ln 2 + r` with `|r| ≤ ln 2 / 2` and a degree-6 polynomial (the classic
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
    var y = SIMD8<Float>(repeating: 1.987_569_15e-4)
    y = y * r + 1.398_199_95e-3
    y = y * r + 8.333_451_9e-3
    y = y * r + 4.166_579_59e-2
    y = y * r + 1.666_666_55e-1
    y = y * r + 5.000_000_12e-1
    y = y * (r * r) + r + 1
    let exponent = (bitLanes(shifted) &- bitLanes(magic) &+ 127) &<< 23
    return y * floatLanes(exponent)
}

/// Per-chunk lane masks for reading one box's `C + 4` leading entries eight at a time.
///
/// A box's class entries and offsets are read in chunks of eight float32 lanes; the last chunk
/// may run into the 8 ignored trailing entries (always in bounds, since `C + 4` rounded up to a
/// multiple of 8 is below `C + 12`), and the masks keep those lanes out of every result.
struct ChunkMasks {
    /// Lanes that hold a class entry or an offset: the values the loss reads.
    var read: SIMD8<UInt32>
    /// Lanes that hold a class entry.
    var classes: SIMD8<UInt32>
    /// ``classes`` as a lane mask (comparing unsigned lanes to build one is not vectorized).
    var classLanes: SIMDMask<SIMD8<Int32>>
    /// Lane `i` holds bit `8 * (chunk % 4) + i`: four chunks' masks OR into one 32-bit word.
    var laneWeights: SIMD8<Int32>

    init(chunk: Int, classes count: Int) {
        let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(chunk * 8)
        let all = SIMD8<UInt32>(repeating: .max)
        let none = SIMD8<UInt32>()
        read = none.replacing(with: all, where: lane .< Int32(count + 4))
        classes = none.replacing(with: all, where: lane .< Int32(count))
        classLanes = lane .< Int32(count)
        laneWeights = SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128) &<< Int32(8 * (chunk % 4))
    }
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

/// The mask as an integer: bit `i` set when lane `i` is set.
@inline(__always)
func laneBits(_ mask: SIMDMask<SIMD8<Int32>>) -> UInt32 {
    orOfLanes(SIMD8<Int32>().replacing(with: SIMD8(1, 2, 4, 8, 16, 32, 64, 128), where: mask))
}

/// The bitwise OR of the lanes, by halving.
@inline(__always)
func orOfLanes(_ v: SIMD8<Int32>) -> UInt32 {
    let four = v.lowHalf | v.highHalf
    let two = four.lowHalf | four.highHalf
    return UInt32(truncatingIfNeeded: two[0] | two[1])
}

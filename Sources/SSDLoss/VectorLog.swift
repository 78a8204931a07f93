/// `log(x)` for eight float64 lanes at once, for positive, finite, normal `x`.
///
/// The kernel needs one logarithm per negative box (of `max(p[0], 1e-15)` for probabilities, of
/// the log-sum-exp's sum for logits). The C library's scalar `log` cost ~15 ns a call, half of
/// the whole budget of a box at the memory floor; this vector version costs a few ns per lane
/// and keeps float64 accuracy, so the float32 paths still agree with the float64 reference to
/// 1e-9 in their logarithms and never change which losses are exactly zero.
///
/// The algorithm is fdlibm's `__ieee754_log` without its special cases: `x = 2^k · m` with `m` in
/// [√½, √2), `f = m − 1`, `s = f / (2 + f)`, and `log(1 + f) = f − f²/2 + s·(f²/2 + R(s²))` with
/// fdlibm's degree-7 minimax `R`; error below 1 ulp. `log(1)` is exactly 0 (`k = 0`, `f = 0`).
/// Callers never pass zero, negatives, subnormals, infinities or NaN (those give garbage, never
/// a trap: there are no integer conversions that could trap).
@inline(__always)
func vectorLog(_ x: SIMD8<Double>) -> SIMD8<Double> {
    let bits = unsafeBitCast(x, to: SIMD8<UInt64>.self)
    // Adding 1 − √½ in exponent units before splitting moves the mantissa's range from [1, 2)
    // to [√½, √2), which keeps |f| ≤ 0.41 and the series short.
    let shifted = bits &+ SIMD8(repeating: 0x3FF0_0000_0000_0000 &- 0x3FE6_A09E_0000_0000)
    let mantissa = (shifted & SIMD8(repeating: 0x000F_FFFF_FFFF_FFFF)) &+ SIMD8(repeating: 0x3FE6_A09E_0000_0000)
    let f = unsafeBitCast(mantissa, to: SIMD8<Double>.self) - 1
    // The biased exponent as a float64 without an int-to-float instruction (SSE2 has none for
    // 64-bit lanes): placing it in the mantissa of 2^52 and subtracting 2^52 + 1023 is exact.
    let exponentBits = (shifted &>> 52) | SIMD8(repeating: 0x4330_0000_0000_0000)
    let k = unsafeBitCast(exponentBits, to: SIMD8<Double>.self) - SIMD8(repeating: 4_503_599_627_371_519.0)
    let halfSquare = 0.5 * f * f
    let s = f / (2 + f)
    let z = s * s
    let w = z * z
    var t1 = SIMD8<Double>(repeating: 1.531_383_769_920_937_332e-01)
    t1 = t1 * w + 2.222_219_843_214_978_396e-01
    t1 = t1 * w + 3.999_999_999_940_941_908e-01
    t1 = t1 * w
    var t2 = SIMD8<Double>(repeating: 1.479_819_860_511_658_591e-01)
    t2 = t2 * w + 1.818_357_216_161_805_012e-01
    t2 = t2 * w + 2.857_142_874_366_239_149e-01
    t2 = t2 * w + 6.666_666_666_666_735_130e-01
    t2 = t2 * z
    let r = t2 + t1
    let ln2High = 6.931_471_803_691_238_164_90e-01
    let ln2Low = 1.908_214_929_270_587_700_02e-10
    return s * (halfSquare + r) + k * ln2Low - halfSquare + f + k * ln2High
}

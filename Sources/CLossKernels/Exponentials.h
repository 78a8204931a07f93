// Exponentials for eight lanes: the exact ones of the log-sum-exp (float32 and float64) and the
// cheap one-sided bound of the logits estimate.
//
// In the AVX2 unit Clang fuses `a * b + c` into one FMA (its default `-ffp-contract=on`), so the
// two paths can differ in the last bit; every consumer allows for that.

/// `exp(x)` for `x ≤ 0` (the shifted logits of a log-softmax), about 1 ulp: range reduction
/// `x = n ln 2 + r` with `|r| ≤ ln 2 / 2` and Cephes' degree-7 `expf` polynomial, evaluated by
/// Estrin's scheme (three short chains instead of one long one). `exp(0)` is exactly 1. Lanes
/// below −87 are clamped there (≈ 1.6e−38), which cannot change a sum whose largest term is 1.
LK_INLINE f32x8 exp_f32(f32x8 input) {
    f32x8 x = input < -87.0f ? (f32x8)-87.0f : input;
    // Adding 1.5 · 2²³ rounds to the nearest integer and leaves it in the low mantissa bits.
    const f32x8 magic = (f32x8)12582912.0f;
    f32x8 shifted = x * 1.44269504f + magic;
    f32x8 n = shifted - magic;
    f32x8 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    f32x8 r2 = r * r;
    f32x8 r4 = r2 * r2;
    f32x8 low = r * 1.66666655e-1f + 5.00000012e-1f;
    f32x8 middle = r * 8.3334519e-3f + 4.16657959e-2f;
    f32x8 high = r * 1.98756915e-4f + 1.39819995e-3f;
    f32x8 polynomial = (low + r2 * middle) + r4 * high;
    f32x8 y = r2 * polynomial + r + 1.0f;
    u32x8 exponent = (f32_to_bits(shifted) - f32_to_bits(magic) + 127u) << 23;
    return y * bits_to_f32(exponent);
}

/// `exp(d)` rounded up by at most 6.15 %: `2ⁿ · (1 + f)` where `n + f = d · log₂e`, `n` an
/// integer and `f` in [0, 1].
///
/// The chord `1 + f` lies above the convex `2^f` on [0, 1] and meets it at both ends, so the
/// result is never below `exp(d)` and at most `max (1 + f) / 2^f = 1.0615` times it. `d · log₂e`
/// is raised to −125.5 (terms below 2⁻¹²⁵ cannot move the bracket of a loss large enough to be
/// non-zero, whose odds exceed 10⁻¹⁶) and lowered to LK_LARGEST_EXPONENT, where the result is
/// 2¹¹⁵ (callers send such boxes to the exact computation). No lane can trap, NaN included.
LK_INLINE f32x8 bounding_exp(f32x8 d) {
    f32x8 scaled = d * 1.44269504f;
    f32x8 t = scaled < -125.5f ? (f32x8)-125.5f : scaled;
    t = t > LK_LARGEST_EXPONENT ? (f32x8)LK_LARGEST_EXPONENT : t;
#if LK_AVX2
    f32x8 n = __builtin_elementwise_floor(t);
    f32x8 f = t - n;
    u32x8 scale = (u32x8)((__builtin_convertvector(n, i32x8) + 127) << 23);
    return f * bits_to_f32(scale) + bits_to_f32(scale);
#else
    // Adding 1.5 · 2²³ to t − ½ rounds it to ⌊t⌋ (or to t itself at an integer, where f = 0 or
    // 1 is exact); SSE2 has no floor.
    const f32x8 magic = (f32x8)12582912.0f;
    f32x8 shifted = (t - 0.5f) + magic;
    f32x8 f = t - (shifted - magic);
    u32x8 scale = (f32_to_bits(shifted) - f32_to_bits(magic) + 127u) << 23;
    return (f + 1.0f) * bits_to_f32(scale);
#endif
}

/// `log₂e · 2²³`, as float32 (12102203; the lost fraction is 1.3 · 10⁻⁸ of it).
#define LK_EXPONENT_SCALE 12102203.0f

/// The offset `bounding_exp_from` takes for a background `b` with `|b| ≤ 64`:
/// `127 · 2²³ − b · log₂e · 2²³`, rounded once to float32.
LK_INLINE float bounding_exp_offset(float background) {
    return (float)(1065353216.0 - (double)background * 12102203.161561485);
}

/// `bounding_exp(x − b)` in four operations, from `offset = bounding_exp_offset(b)`.
///
/// `y = x · log₂e · 2²³ + 127 · 2²³ − b · log₂e · 2²³` is `(t + 127) · 2²³` for
/// `t = (x − b) · log₂e`; the float32 whose bits are the integer ⌊y⌋ has exponent `⌊t⌋` and
/// mantissa `t − ⌊t⌋`, which is the same chord `2ⁿ · (1 + f)` (the construction of Schraudolph's
/// fast exponential, here kept one-sided). `y` is rounded (to 2⁻¹⁶ of the result's mantissa at
/// worst: the offset once, the fused multiply-add once, or the product and the sum once each on
/// the baseline), an error of at most 3 · 10⁻⁵ of the result, inside the bracket's allowance for
/// rounding for `|x| ≤ 151` (`|b| ≤ 64`; terms of larger `x` are clamped away or send the box to
/// the exact computation). The clamps keep `t` in [−125.5, 115] as `bounding_exp` does.
LK_INLINE f32x8 bounding_exp_from(f32x8 x, float offset) {
    f32x8 y = x * LK_EXPONENT_SCALE + offset;
    y = y < 12582912.0f ? (f32x8)12582912.0f : y;        // t ≥ −125.5
    y = y > 2030043136.0f ? (f32x8)2030043136.0f : y;    // t ≤ 115
    return bits_to_f32((u32x8)__builtin_convertvector(y, i32x8));
}

/// `bounding_exp_from` without its clamps, for a box whose logits (background included) all lie
/// in (−32, 32): then `t = (x − b) · log₂e` lies in (−92.4, 92.4), inside [−125.5, 115], where
/// the clamps change nothing, and the result is `bounding_exp_from`'s, bit for bit, in two
/// operations instead of four. Lanes outside that range (the next box's logits in a last chunk)
/// give garbage that the caller masks away; no lane can trap.
LK_INLINE f32x8 bounding_exp_unclamped(f32x8 x, float offset) {
    const f32x8 y = x * LK_EXPONENT_SCALE + offset;
    return bits_to_f32((u32x8)__builtin_convertvector(y, i32x8));
}

/// `exp(x)` for `x ≤ 0` in float64, about 1 ulp: `x = n ln 2 + r` (Cody and Waite's two-part
/// ln 2), `|r| ≤ ln 2 / 2`, and the Taylor series of `exp(r)` to degree 13 (its truncation error
/// is below 10⁻¹⁷), by Estrin's scheme. Lanes below −708 are clamped there.
LK_INLINE f64x8 exp_f64(f64x8 input) {
    f64x8 x = input < -708.0 ? (f64x8)-708.0 : input;
    const f64x8 magic = (f64x8)6755399441055744.0; // 1.5 · 2⁵²
    f64x8 shifted = x * 1.4426950408889634 + magic;
    f64x8 n = shifted - magic;
    f64x8 r = x - n * 6.93147180369123816490e-01;
    r = r - n * 1.90821492927058770002e-10;
    f64x8 r2 = r * r;
    f64x8 r4 = r2 * r2;
    f64x8 r8 = r4 * r4;
    // 1 + r + r²/2! + … + r¹³/13!, as pairs (c_k + c_{k+1} r), then by powers of r², r⁴, r⁸.
    f64x8 p01 = 1.0 + r;
    f64x8 p23 = 0.5 + r * 1.6666666666666666e-01;
    f64x8 p45 = 4.1666666666666664e-02 + r * 8.3333333333333332e-03;
    f64x8 p67 = 1.3888888888888889e-03 + r * 1.9841269841269841e-04;
    f64x8 p89 = 2.4801587301587302e-05 + r * 2.7557319223985893e-06;
    f64x8 p1011 = 2.7557319223985888e-07 + r * 2.5052108385441720e-08;
    f64x8 p1213 = 2.0876756987868100e-09 + r * 1.6059043836821613e-10;
    f64x8 q0 = p01 + r2 * p23;
    f64x8 q1 = p45 + r2 * p67;
    f64x8 q2 = p89 + r2 * p1011;
    f64x8 y = (q0 + r4 * q1) + r8 * (q2 + r4 * p1213);
    u64x8 exponent = ((u64x8)shifted - (u64x8)magic + 1023u) << 52;
    return y * (f64x8)exponent;
}

// Reading the four wire formats: scalars as float64, eight elements as float32 lanes, and the
// bit test for NaN and ±Inf, which needs no conversion at all.
//
// Every conversion is exact: float16 and bfloat16 values are all float32 values, so the lanes
// hold what the wire carries (NaN and ±Inf included). float64 elements are rounded to float32
// only where an estimate is wanted; exact float64 work reads them as they are.

LK_INLINE intptr_t element_bytes(lk_format format) {
    switch (format) {
    case LK_FLOAT32: return 4;
    case LK_FLOAT16: return 2;
    case LK_BFLOAT16: return 2;
    case LK_FLOAT64: return 8;
    }
    return 4;
}

/// The float32 value of the float16 bits in the low half of each lane, in integer operations
/// only (baseline x86-64 has no conversion instruction): move the 15 exponent-and-mantissa bits
/// into place and rebias; an all-ones exponent (Inf, NaN) gets a second rebias, and a zero one
/// (±0, subnormals) is renormalized by subtracting 2⁻¹⁴ in float arithmetic, which is exact and
/// never produces a float32 subnormal.
LK_INLINE f32x8 half_to_float_lanes(u32x8 half) {
    u32x8 bits = (half & 0x7FFFu) << 13;
    u32x8 exponent = bits & (0x7C00u << 13);
    bits += (127u - 15u) << 23;
    // All ones where the exponent is all ones: one more exponent step carries into bit 28.
    u32x8 special = (u32x8)0 - ((exponent + (1u << 23)) >> 28);
    bits += special & ((128u - 16u) << 23);
    // All ones where the exponent is zero: only 0 wraps below zero.
    u32x8 small = (u32x8)0 - ((exponent - 1u) >> 31);
    u32x8 renormalized = f32_to_bits(bits_to_f32(bits + (1u << 23)) - 0x1p-14f);
    bits = (bits & ~small) | (renormalized & small);
    return bits_to_f32(bits | ((half & 0x8000u) << 16));
}

/// The float32 value of float16 bits, as `half_to_float_lanes` does it for one value.
LK_INLINE float half_to_float(uint32_t half) {
    uint32_t bits = (half & 0x7FFFu) << 13;
    uint32_t exponent = bits & (0x7C00u << 13);
    bits += (127u - 15u) << 23;
    float value;
    if (exponent == (0x7C00u << 13)) {
        bits += (128u - 16u) << 23;
    } else if (exponent == 0) {
        uint32_t raised = bits + (1u << 23);
        memcpy(&value, &raised, 4);
        value -= 0x1p-14f;
        memcpy(&bits, &value, 4);
    }
    bits |= (half & 0x8000u) << 16;
    memcpy(&value, &bits, 4);
    return value;
}

/// Element `index` of the tensor at `base`, as float64.
LK_INLINE double load_scalar(lk_format format, const uint8_t *base, intptr_t index) {
    switch (format) {
    case LK_FLOAT32: {
        float value;
        memcpy(&value, base + index * 4, 4);
        return value;
    }
    case LK_FLOAT16: {
        uint16_t bits;
        memcpy(&bits, base + index * 2, 2);
        return half_to_float(bits);
    }
    case LK_BFLOAT16: {
        uint16_t bits;
        memcpy(&bits, base + index * 2, 2);
        uint32_t wide = (uint32_t)bits << 16;
        float value;
        memcpy(&value, &wide, 4);
        return value;
    }
    case LK_FLOAT64: {
        double value;
        memcpy(&value, base + index * 8, 8);
        return value;
    }
    }
    return 0;
}

/// The bit pattern of 16-bit element `index`, as a table index.
LK_INLINE uint32_t load_pattern(const uint8_t *base, intptr_t index) {
    uint16_t bits;
    memcpy(&bits, base + index * 2, 2);
    return bits;
}

/// Elements `index ..< index + 8` of the tensor at `base`, as float32 lanes (float64 rounded).
LK_INLINE f32x8 load_floats(lk_format format, const uint8_t *base, intptr_t index) {
    switch (format) {
    case LK_FLOAT32:
        return load_f32x8(base + index * 4);
    case LK_FLOAT16: {
#if LK_AVX2
        h16x8 half;
        memcpy(&half, base + index * 2, 16);
        return __builtin_convertvector(half, f32x8);
#else
        return half_to_float_lanes(__builtin_convertvector(load_u16x8(base + index * 2), u32x8));
#endif
    }
    case LK_BFLOAT16:
        return bits_to_f32(__builtin_convertvector(load_u16x8(base + index * 2), u32x8) << 16);
    case LK_FLOAT64:
        return __builtin_convertvector(load_f64x8(base + index * 8), f32x8);
    }
    return (f32x8)0;
}

/// Elements `index ..< index + 8` as float64 lanes (float64 tensors only).
LK_INLINE f64x8 load_doubles(const uint8_t *base, intptr_t index) {
    return load_f64x8(base + index * 8);
}

/// The exponent bits of one element of `format`, repeated over 32 bytes.
LK_INLINE u64x4 exponent_bits32(lk_format format) {
    switch (format) {
    case LK_FLOAT32: return (u64x4)0x7F8000007F800000ull;
    case LK_FLOAT16: return (u64x4)0x7C007C007C007C00ull;
    case LK_BFLOAT16: return (u64x4)0x7F807F807F807F80ull;
    case LK_FLOAT64: return (u64x4)0x7FF0000000000000ull;
    }
    return (u64x4)0;
}

/// The sign bit of every element lane of `format` in 32 bytes.
LK_INLINE u64x4 sign_bits32(lk_format format) {
    switch (format) {
    case LK_FLOAT32: return (u64x4)0x8000000080000000ull;
    case LK_FLOAT16:
    case LK_BFLOAT16: return (u64x4)0x8000800080008000ull;
    case LK_FLOAT64: return (u64x4)0x8000000000000000ull;
    }
    return (u64x4)0;
}

/// The exponent test on 32 bytes of elements, `masked` being their bits ANDed with the exponent
/// bits of the lanes to test: `masked + step` in the element's width sets the top bit of a lane
/// exactly when its exponent is all ones (NaN, ±Inf).
LK_INLINE u64x4 exponent_marks(lk_format format, u64x4 masked) {
    switch (format) {
    case LK_FLOAT32: return (u64x4)((u32x8)masked + 0x00800000u);
    case LK_FLOAT16: return (u64x4)((u16x16)masked + (uint16_t)0x0400);
    case LK_BFLOAT16: return (u64x4)((u16x16)masked + (uint16_t)0x0080);
    case LK_FLOAT64: return masked + 0x0010000000000000ull;
    }
    return (u64x4)0;
}

/// Folds masked exponent bits (see `exponent_marks`) into an accumulator that
/// `marks_saw_nonfinite` reads. With AVX2 the accumulator keeps each lane's largest masked
/// exponent (one `vpmaxud`/`vpmaxuw`; the all-ones exponent is the largest value a lane can
/// hold, so the maximum loses nothing); otherwise, and for float64 (no 64-bit maximum), it ORs
/// the marks themselves.
LK_INLINE u64x4 marks_fold(lk_format format, u64x4 accumulator, u64x4 masked) {
#if LK_AVX2
    switch (format) {
    case LK_FLOAT32: {
        u32x8 a = (u32x8)accumulator, b = (u32x8)masked;
        return (u64x4)(a > b ? a : b);
    }
    case LK_FLOAT16:
    case LK_BFLOAT16: {
        u16x16 a = (u16x16)accumulator, b = (u16x16)masked;
        return (u64x4)(a > b ? a : b);
    }
    case LK_FLOAT64: break;
    }
#endif
    return accumulator | exponent_marks(format, masked);
}

/// Whether an accumulator of `marks_fold` saw a NaN or an infinity.
LK_INLINE int marks_saw_nonfinite(lk_format format, u64x4 accumulator) {
#if LK_AVX2
    if (format != LK_FLOAT64) accumulator = exponent_marks(format, accumulator);
#endif
    return !is_zero32(accumulator & sign_bits32(format));
}

/// Two accumulators of `marks_fold` as one.
LK_INLINE u64x4 marks_merge(lk_format format, u64x4 a, u64x4 b) {
#if LK_AVX2
    if (format != LK_FLOAT64) return marks_fold(format, a, b);
#endif
    return a | b;
}

/// Whether every element folded into an accumulator of `marks_fold` is below 32 in magnitude
/// (its exponent at most that of 16), so that the logits estimate needs no clamps. Only the
/// AVX2 accumulators keep each lane's largest exponent; the others answer 0. The masked
/// exponents have no sign bit, so signed comparisons order them.
LK_INLINE int marks_below_32(lk_format format, u64x4 accumulator) {
#if LK_AVX2
    switch (format) {
    case LK_FLOAT32: return is_zero32((u64x4)((i32x8)accumulator > (int32_t)(131u << 23)));
    case LK_FLOAT16: return is_zero32((u64x4)((i16x16)accumulator > (int16_t)(19u << 10)));
    case LK_BFLOAT16: return is_zero32((u64x4)((i16x16)accumulator > (int16_t)(131u << 7)));
    case LK_FLOAT64: break;
    }
#else
    (void)format;
    (void)accumulator;
#endif
    return 0;
}

/// The one-element version of the exponent test, for values read as float64.
LK_INLINE uint64_t nonfinite_mark(double value) {
    uint64_t bits;
    memcpy(&bits, &value, 8);
    return (bits & 0x7FF0000000000000ull) + 0x0010000000000000ull;
}

LK_INLINE int saw_nonfinite_scalar(uint64_t marks) { return (marks & 0x8000000000000000ull) != 0; }

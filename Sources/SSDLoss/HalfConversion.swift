/// Exact float16 → float32 conversion in integer lanes.
///
/// Without F16C (lossd builds for baseline x86-64), `Float(Float16)` is a library call per value,
/// which made float16 batches 10–40× slower than float32 ones. These functions do the widening
/// with shifts, adds and selects on the bits, eight lanes at a time.
///
/// The method: move the 15 exponent-and-mantissa bits to float32's position and rebias the
/// exponent (15 → 127). Two exponent values need more: all-ones (Inf/NaN) must stay all-ones,
/// so it gets a second rebias; zero (±0 and subnormals) is renormalized by giving the value the
/// smallest normal exponent and subtracting that power of two in float arithmetic, which is
/// exact and never touches a float32 subnormal (those would cost microcode assists on x86).

/// The float32 lanes equal to the float16 values whose bit patterns are in the low 16 bits of `half`.
///
/// The two special exponents are found with adds and shifts, not lane comparisons: inlined into
/// a large loop, `replacing(with:where:)` with a comparison's mask may be left as a loop over
/// the lanes, which made this conversion cost more than the rest of the pass.
@inline(__always)
func halfToFloat(_ half: SIMD8<UInt32>) -> SIMD8<Float> {
    var bits = (half & 0x7FFF) &<< 13
    let exponent = bits & (0x7C00 << 13)
    bits &+= (127 - 15) << 23
    // All ones in lanes whose exponent is all ones (Inf, NaN): one more exponent step carries
    // into bit 28, which no other exponent reaches.
    let special = SIMD8<UInt32>() &- ((exponent &+ (1 << 23)) &>> 28)
    bits &+= special & ((128 - 16) << 23)
    // All ones in lanes whose exponent is zero (±0, subnormals): only 0 wraps below zero.
    let small = SIMD8<UInt32>() &- ((exponent &- 1) &>> 31)
    // 2^-14, the smallest normal float16.
    let renormalized = bitLanes(floatLanes(bits &+ (1 << 23)) - 0x1p-14)
    bits = (bits & ~small) | (renormalized & small)
    return floatLanes(bits | ((half & 0x8000) &<< 16))
}

/// The float32 equal to the float16 value whose bit pattern is the low 16 bits of `half`.
@inline(__always)
func halfToFloat(_ half: UInt32) -> Float {
    var bits = (half & 0x7FFF) &<< 13
    let exponent = bits & (0x7C00 << 13)
    bits &+= (127 - 15) << 23
    if exponent == 0x7C00 << 13 {
        bits &+= (128 - 16) << 23
    } else if exponent == 0 {
        bits = (Float(bitPattern: bits &+ (1 << 23)) - 0x1p-14).bitPattern
    }
    return Float(bitPattern: bits | ((half & 0x8000) &<< 16))
}

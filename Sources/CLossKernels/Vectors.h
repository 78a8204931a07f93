// Vector types and the small operations the passes are made of.
//
// Clang's vector extensions: an `f32x8` is one YMM register in the AVX2 translation unit and two
// XMM registers in the baseline one. Loads go through memcpy, so nothing needs to be aligned.
// Included by Kernels.h, inside the AVX2 unit's target region.

#include <stdint.h>
#include <string.h>

#define LK_INLINE static inline __attribute__((always_inline))

typedef float f32x8 __attribute__((ext_vector_type(8)));
typedef float f32x4 __attribute__((ext_vector_type(4)));
typedef float f32x2 __attribute__((ext_vector_type(2)));
typedef int32_t i32x8 __attribute__((ext_vector_type(8)));
typedef uint32_t u32x8 __attribute__((ext_vector_type(8)));
typedef uint16_t u16x8 __attribute__((ext_vector_type(8)));
typedef uint16_t u16x16 __attribute__((ext_vector_type(16)));
typedef int16_t i16x16 __attribute__((ext_vector_type(16)));
typedef double f64x8 __attribute__((ext_vector_type(8)));
typedef double f64x4 __attribute__((ext_vector_type(4)));
typedef double f64x2 __attribute__((ext_vector_type(2)));
typedef int64_t i64x8 __attribute__((ext_vector_type(8)));
typedef uint64_t u64x8 __attribute__((ext_vector_type(8)));
typedef uint64_t u64x4 __attribute__((ext_vector_type(4)));
typedef uint64_t u64x2 __attribute__((ext_vector_type(2)));
typedef uint8_t u8x32 __attribute__((ext_vector_type(32)));
typedef _Float16 h16x8 __attribute__((ext_vector_type(8)));

// Unaligned loads of each vector type, through memcpy (one instruction once optimized).
#define LK_DEFINE_LOAD(type)                      \
    LK_INLINE type load_##type(const void *p) {   \
        type v;                                   \
        memcpy(&v, p, sizeof v);                  \
        return v;                                 \
    }
LK_DEFINE_LOAD(f32x8)
LK_DEFINE_LOAD(u32x8)
LK_DEFINE_LOAD(u16x8)
LK_DEFINE_LOAD(i64x8)
LK_DEFINE_LOAD(f64x8)
#undef LK_DEFINE_LOAD

/// 32 bytes, the unit of the bit tests (one-hot targets, non-finite values).
LK_INLINE u64x4 load_bytes32(const void *p) {
    u64x4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

LK_INLINE void store_f64x8(void *p, f64x8 v) { memcpy(p, &v, sizeof v); }
LK_INLINE void store_i64x8(void *p, i64x8 v) { memcpy(p, &v, sizeof v); }

LK_INLINE f32x8 bits_to_f32(u32x8 v) { return (f32x8)v; }
LK_INLINE u32x8 f32_to_bits(f32x8 v) { return (u32x8)v; }

/// The larger lane of each pair: `maxps` (the second operand when either is NaN).
LK_INLINE f32x8 max_f32(f32x8 a, f32x8 b) { return a > b ? a : b; }
/// The smaller lane of each pair: `minps`.
LK_INLINE f32x8 min_f32(f32x8 a, f32x8 b) { return a < b ? a : b; }
LK_INLINE f64x8 max_f64(f64x8 a, f64x8 b) { return a > b ? a : b; }
LK_INLINE f64x8 min_f64(f64x8 a, f64x8 b) { return a < b ? a : b; }

/// The sum of the lanes, by halving (the order every path uses).
LK_INLINE float hsum_f32(f32x8 v) {
    f32x4 four = v.lo + v.hi;
    f32x2 two = four.lo + four.hi;
    return two.x + two.y;
}

/// The largest lane, by halving.
LK_INLINE float hmax_f32(f32x8 v) {
    f32x4 four = v.lo > v.hi ? v.lo : v.hi;
    f32x2 two = four.lo > four.hi ? four.lo : four.hi;
    return two.x > two.y ? two.x : two.y;
}

LK_INLINE double hsum_f64(f64x8 v) {
    f64x4 four = v.lo + v.hi;
    f64x2 two = four.lo + four.hi;
    return two.x + two.y;
}

LK_INLINE double hmax_f64(f64x8 v) {
    f64x4 four = v.lo > v.hi ? v.lo : v.hi;
    f64x2 two = four.lo > four.hi ? four.lo : four.hi;
    return two.x > two.y ? two.x : two.y;
}

/// Whether every bit of 32 bytes is zero (`vptest` on AVX2).
LK_INLINE int is_zero32(u64x4 v) {
    uint64_t two[2];
    u64x2 half = v.lo | v.hi;
    memcpy(two, &half, sizeof two);
    return (two[0] | two[1]) == 0;
}

LK_INLINE float scalar_max(float a, float b) { return a > b ? a : b; }
LK_INLINE double dmax(double a, double b) { return b >= a ? b : a; }

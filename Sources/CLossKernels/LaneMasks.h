// Per-batch masks for reading a box's entries in chunks: eight elements at a time for values,
// 32 bytes at a time for the bit tests. The last chunk of a box may run past the entries it
// needs (into the offsets, the ignored entries or the next box): the masks keep those lanes out.

/// Masks for one chunk of eight elements.
typedef struct {
    /// All ones in lanes that hold a class entry.
    u32x8 class_bits;
    /// The bits of −∞ in the other lanes, so that they never win a maximum.
    u32x8 fill;
    /// `class_bits` without class 0: the lanes of a negative's odds `sum_{k≥1} exp(p[k] − p[0])`.
    u32x8 other_class_bits;
    /// `class_bits` widened to float64 lanes.
    i64x8 class_lanes64;
} chunk_masks;

/// Masks for the bit tests of a keras box, which read its class entries in chunks of 32 bytes
/// and its 4 offsets with one more 32-byte load from where they start.
typedef struct {
    /// `y_true`'s first 32 bytes for a one-hot negative (class 0 = 1, the others 0), zero past
    /// the class entries.
    u64x4 negative_target;
    /// All ones in the bytes of class entries of the last class chunk.
    u64x4 last_class_bytes;
    /// The exponent bits of every element (a full chunk of class entries).
    u64x4 exponents;
    /// The exponent bits of the class entries of the last class chunk.
    u64x4 last_class_exponents;
    /// The exponent bits of the 4 offsets, at the start of their 32 bytes.
    u64x4 offset_exponents;
} byte_masks;

typedef struct {
    intptr_t classes;
    /// Chunks of eight elements per box: ⌈C / 8⌉.
    intptr_t chunks;
    chunk_masks *chunk;
    /// Chunks of 32 bytes covering the class entries: ⌈C·w / 32⌉.
    intptr_t class_byte_chunks;
    /// The bytes from a box's start that its bit tests read: the class chunks, and 32 bytes
    /// from the offsets (`C·w`).
    intptr_t test_span;
    byte_masks bytes;
    /// Scratch for one box's values in float32 (`chunks` entries) and float64 (`2·chunks`).
    f32x8 *staged;
    f64x8 *staged64;
} lane_masks;

/// `size` bytes aligned for any vector, or NULL.
static void *aligned_bytes(size_t size) {
    void *memory = NULL;
    return posix_memalign(&memory, 64, (size + 63) & ~(size_t)63) == 0 ? memory : NULL;
}

/// Sets `count` bytes from `offset` of the 32 bytes at `chunk` to `value`, repeated (bytes past
/// the 32 are ignored).
static void fill_bytes(u64x4 *chunk, intptr_t offset, intptr_t count, const uint8_t *value, intptr_t width) {
    uint8_t *bytes = (uint8_t *)chunk;
    for (intptr_t i = 0; i < count; i++) {
        if (offset + i >= 0 && offset + i < 32) bytes[offset + i] = value[i % width];
    }
}

/// Masks for `classes` classes of `format`; 0 when memory is short.
static int lane_masks_make(lane_masks *masks, intptr_t classes, lk_format format) {
    intptr_t width = element_bytes(format);
    masks->classes = classes;
    masks->chunks = (classes + 7) / 8;
    masks->class_byte_chunks = (classes * width + 31) / 32;
    masks->test_span = classes * width + 32;
    if (masks->class_byte_chunks * 32 > masks->test_span) masks->test_span = masks->class_byte_chunks * 32;
    masks->chunk = aligned_bytes((size_t)masks->chunks * sizeof(chunk_masks));
    masks->staged = aligned_bytes((size_t)masks->chunks * sizeof(f32x8));
    masks->staged64 = aligned_bytes((size_t)masks->chunks * sizeof(f64x8));
    if (!masks->chunk || !masks->staged || !masks->staged64) return 0;
    for (intptr_t c = 0; c < masks->chunks; c++) {
        uint32_t class_bits[8], fill[8], other[8];
        int64_t class64[8];
        for (int lane = 0; lane < 8; lane++) {
            int in = c * 8 + lane < classes;
            class_bits[lane] = in ? 0xFFFFFFFFu : 0;
            fill[lane] = in ? 0 : 0xFF800000u;
            other[lane] = (in && !(c == 0 && lane == 0)) ? 0xFFFFFFFFu : 0;
            class64[lane] = in ? -1 : 0;
        }
        memcpy(&masks->chunk[c].class_bits, class_bits, 32);
        memcpy(&masks->chunk[c].fill, fill, 32);
        memcpy(&masks->chunk[c].other_class_bits, other, 32);
        memcpy(&masks->chunk[c].class_lanes64, class64, 64);
    }
    static const uint8_t ones[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    uint8_t one[8], exponent[8];
    switch (format) {
    case LK_FLOAT32: memcpy(one, (uint8_t[]){0x00, 0x00, 0x80, 0x3F}, 4); memcpy(exponent, (uint8_t[]){0x00, 0x00, 0x80, 0x7F}, 4); break;
    case LK_FLOAT16: memcpy(one, (uint8_t[]){0x00, 0x3C}, 2); memcpy(exponent, (uint8_t[]){0x00, 0x7C}, 2); break;
    case LK_BFLOAT16: memcpy(one, (uint8_t[]){0x80, 0x3F}, 2); memcpy(exponent, (uint8_t[]){0x80, 0x7F}, 2); break;
    case LK_FLOAT64:
        memcpy(one, (uint8_t[]){0, 0, 0, 0, 0, 0, 0xF0, 0x3F}, 8);
        memcpy(exponent, (uint8_t[]){0, 0, 0, 0, 0, 0, 0xF0, 0x7F}, 8);
        break;
    }
    byte_masks *bytes = &masks->bytes;
    memset(bytes, 0, sizeof *bytes);
    const intptr_t last = (masks->class_byte_chunks - 1) * 32;
    fill_bytes(&bytes->negative_target, 0, width, one, width);
    fill_bytes(&bytes->last_class_bytes, 0, classes * width - last, ones, 8);
    fill_bytes(&bytes->exponents, 0, 32, exponent, width);
    fill_bytes(&bytes->last_class_exponents, 0, classes * width - last, exponent, width);
    fill_bytes(&bytes->offset_exponents, 0, 4 * width, exponent, width);
    return 1;
}

static void lane_masks_free(lane_masks *masks) {
    free(masks->chunk);
    free(masks->staged);
    free(masks->staged64);
}

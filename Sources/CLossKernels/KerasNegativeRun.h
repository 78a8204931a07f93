// Runs of one-hot negatives in a keras float32 batch of probabilities: the boxes that make up
// almost all of an SSD batch, with as few instructions per box as their tests allow.
//
// The pass's general loop (KerasPass.h) tests a box in 32-byte chunks aligned to the row's start,
// so its last chunks need masks (the class entries end inside a chunk, the offsets are followed
// by entries the loss does not read), and it keeps every value of every kind of box alive across
// the loop, which spills its counters to the stack. Here the chunks are placed so that none
// needs a mask, and the loop does nothing but negatives:
//
// * one-hot test: chunks `[0, 8)`, `[8, 16)`, …, and the last one ending at element C (it may
//   overlap the one before, which does not matter to an OR);
// * non-finite test: `x · 0` is ±0 for every finite float32 and NaN for NaN and ±Inf, so the
//   products of every element the loss reads (`y_pred`'s classes and offsets `[0, C + 4)`,
//   `y_true`'s offsets, read with the last classes, which a one-hot negative holds as 0 or 1)
//   are summed per box and ORed into an accumulator: one multiply-add per chunk, where the bit
//   test takes an AND and a maximum;
// * every read stays inside the box's own row (`C + 4 ≤ C + 12` elements), so the last box of
//   the batch needs no padded copy.
//
// The run stops at the first box that is not a one-hot negative (or at `end`), and the general
// loop takes that box: the two compute the same losses in the same slots.

/// Whether an accumulator of `x · 0` products saw a NaN or an infinity.
LK_INLINE int products_saw_nonfinite(f32x8 products) { return __builtin_reduce_or((i32x8)(products != products)) != 0; }

/// The one-hot negatives of a float32 probabilities batch from `box` on, up to `end` (exclusive,
/// within one image) or the first box that is not one: each one's argument `max(p[0], 1e-15)`
/// goes to the next slot of the pending logarithms unless it is 1 (a zero loss). Returns the
/// box it stopped at; `*count` and `*marks` are updated (a non-finite value among the boxes it
/// read marks `*marks` as the bit test would).
///
/// Needs `classes ≥ 8`; `class_chunks` is `⌈classes / 8⌉` (a constant in the specialized copies).
LK_INLINE intptr_t keras_f32_negative_run(
    const uint8_t *y_true, const uint8_t *y_pred, intptr_t row_bytes, intptr_t classes, intptr_t class_chunks,
    intptr_t box, intptr_t end, const byte_masks *bytes, pending_logs *logs, intptr_t *count_io, u64x4 *marks) {
    // Byte offsets of the last class chunk `[C − 8, C)` and of the chunk `[C − 4, C + 4)` that
    // holds the offsets.
    const intptr_t last_class = (classes - 8) * 4;
    const intptr_t last_tested = (classes - 4) * 4;
    const u64x4 negative_target = bytes->negative_target;
    double *const slots = logs->negative_losses;
    intptr_t count = *count_io;
    intptr_t flush_at = logs->first + 64;
    u32x8 products = 0;
    const uint8_t *t = y_true + box * row_bytes;
    const uint8_t *p = y_pred + box * row_bytes;
    for (; box < end; box++, t += row_bytes, p += row_bytes) {
        u64x4 not_negative = load_bytes32(t) ^ negative_target;
        for (intptr_t c = 1; c < class_chunks - 1; c++) not_negative |= load_bytes32(t + c * 32);
        if (class_chunks > 1) not_negative |= load_bytes32(t + last_class);
        // `y_pred`'s chunks at the same places, and the offsets' chunk.
        const f32x8 first = load_f32x8(p);
        f32x8 box_products = first * 0.0f;
        for (intptr_t c = 1; c < class_chunks - 1; c++) box_products += load_f32x8(p + c * 32) * 0.0f;
        if (class_chunks > 1) box_products += load_f32x8(p + last_class) * 0.0f;
        box_products += load_f32x8(p + last_tested) * 0.0f;
        box_products += load_f32x8(t + last_tested) * 0.0f;
        products |= (u32x8)box_products;
        if (!is_zero32(not_negative)) break;
        // Both rows 48 boxes ahead (6 KB at C = 21) into L2: the hardware's prefetch alone
        // leaves the loop waiting on L3 (two lines a row cover all but one line in 16).
        __builtin_prefetch(t + 48 * row_bytes, 0, 2);
        __builtin_prefetch(t + 48 * row_bytes + 64, 0, 2);
        __builtin_prefetch(p + 48 * row_bytes, 0, 2);
        __builtin_prefetch(p + 48 * row_bytes + 64, 0, 2);
        const double argument = dmax(first[0], 1e-15);
        if (argument != 1) {
            slots[count] = argument;
            count += 1;
            if (count >= flush_at) {
                pending_logs_flush_now(logs, count);
                flush_at = count + 64;
            }
        }
    }
    if (__builtin_expect(products_saw_nonfinite((f32x8)products), 0)) {
        *marks = marks_fold(LK_FLOAT32, *marks, bytes->exponents);
    }
    *count_io = count;
    return box;
}

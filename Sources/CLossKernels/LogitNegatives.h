// Where the passes put a one-hot negative's loss with logits: estimated (its box, a bound, a
// loss of −∞ until refinement) or exact (a scheduled logarithm).
//
// The estimate: a negative's loss is `log(1 + g)`, `g = Σ_{k≥1} exp(p[k] − p[0])` the odds
// against the background class. `ĝ`, the same sum of `bounding_exp` terms, satisfies
// `ĝ / LK_UPPER_FACTOR ≤ G ≤ ĝ / LK_LOWER_FACTOR` for `G = expm1(loss)` of the exact
// computation (every rounding of both counted). From that bracket: the loss is zero when
// `ĝ ≤ LK_ZERO_LIMIT`, non-zero when `ĝ > LK_NONZERO_LIMIT`, and in between (a 6 % band around
// 2⁻⁵³) or for a huge gap the box is computed exactly on the spot.

typedef struct {
    double *negative_losses;
    double *bounds;
    intptr_t *negative_boxes;
    intptr_t estimated;
    /// Whether estimated entries can exist, so that exact ones must be marked for refinement.
    int marking;
} logit_negatives;

LK_INLINE void logit_negatives_init(logit_negatives *negatives, const lk_workspace *workspace, int marking) {
    negatives->negative_losses = workspace->negative_losses;
    negatives->bounds = workspace->bounds;
    negatives->negative_boxes = workspace->negative_boxes;
    negatives->estimated = 0;
    negatives->marking = marking;
}

/// Takes slot `*count` for the exact loss `addend + log(sum)` of a negative when it is not zero,
/// with `box` as its box (−1 in the entries that `lk_refine` reads, where it marks an exact
/// loss); returns whether it did.
LK_INLINE int logit_negatives_exact_box(
    logit_negatives *negatives, loss_terms terms, intptr_t box, pending_logs *logs, intptr_t *count) {
    if (terms.addend != 0 || terms.sum != 1) {
        if (negatives->marking) negatives->negative_boxes[*count] = box;
        negatives->negative_losses[*count] = terms.sum;
        negatives->bounds[*count] = terms.addend;
        *count += 1;
        pending_logs_taken(logs, *count);
        return 1;
    }
    return 0;
}

/// Takes slot `*count` for the exact loss `addend + log(sum)` of a negative when it is not zero.
LK_INLINE void logit_negatives_exact(logit_negatives *negatives, loss_terms terms, pending_logs *logs, intptr_t *count) {
    logit_negatives_exact_box(negatives, terms, -1, logs, count);
}

/// Records the one-hot negative `box`, whose C logits start at `row`, by its estimate `estimate`.
LK_INLINE void logit_negatives_record(
    logit_negatives *negatives, float estimate, intptr_t box, lk_format format, const uint8_t *row,
    const lane_masks *masks, pending_logs *logs, intptr_t *count) {
    if (estimate <= LK_ZERO_LIMIT) return;
    if (estimate > LK_NONZERO_LIMIT && estimate < LK_LARGE_ESTIMATE) {
        // Stored directly: the waiting logarithms must not have a slot after this one.
        pending_logs_flush(logs, *count);
        negatives->negative_boxes[*count] = box;
        negatives->bounds[*count] = (double)estimate * LK_INVERSE_UPPER_FACTOR;
        negatives->negative_losses[*count] = -__builtin_inf();
        *count += 1;
        logs->first = *count;
        negatives->estimated += 1;
        return;
    }
    // Undecided (near the zero threshold), a huge gap, or NaN: computed exactly.
    logit_negatives_exact(negatives, box_loss_terms(format, row, 0, 0, masks), logs, count);
}

/// The lanes of `ĝ` for a box of float32 or 16-bit logits whose background `first.s0` (from its
/// first chunk, `first`) is at most 64 in magnitude, by `bounding_exp_from`; without its clamps
/// when `unclamped` (a constant) says that every logit of the box is below 32.
LK_INLINE f32x8 logit_odds_from(
    lk_format format, const uint8_t *row, f32x8 first, const lane_masks *masks, intptr_t chunks, int unclamped) {
    const float offset = bounding_exp_offset(first.s0);
    f32x8 odds = unclamped ? bounding_exp_unclamped(first, offset) : bounding_exp_from(first, offset);
    odds = bits_to_f32(f32_to_bits(odds) & masks->chunk[0].other_class_bits);
    for (intptr_t chunk = 1; chunk < chunks; chunk++) {
        const f32x8 x = load_floats(format, row, chunk * 8);
        f32x8 term = unclamped ? bounding_exp_unclamped(x, offset) : bounding_exp_from(x, offset);
        if (chunk == chunks - 1) term = bits_to_f32(f32_to_bits(term) & masks->chunk[chunk].class_bits);
        odds += term;
    }
    return odds;
}

/// The lanes whose sum is `ĝ` for the box whose C logits start at `row`, in `elements` chunks of
/// eight (a constant in the specialized copies, 0 to read it from `masks`). Only the first chunk
/// (class 0) and the last (lanes past the classes) need their lanes masked.
LK_INLINE f32x8 logit_odds_lanes(lk_format format, const uint8_t *row, const lane_masks *masks, intptr_t elements) {
    const intptr_t chunks = elements ? elements : masks->chunks;
    if (format == LK_FLOAT64) {
        // The differences in float64 first, then rounded: rounding the logits themselves would
        // cost an error relative to their size, not to the differences'.
        const f64x8 first = load_doubles(row, 0);
        const f64x8 background = __builtin_shufflevector(first, first, 0, 0, 0, 0, 0, 0, 0, 0);
        f32x8 odds = bits_to_f32(
            f32_to_bits(bounding_exp(__builtin_convertvector(first - background, f32x8))) & masks->chunk[0].other_class_bits);
        for (intptr_t chunk = 1; chunk < chunks; chunk++) {
            f32x8 term = bounding_exp(__builtin_convertvector(load_doubles(row, chunk * 8) - background, f32x8));
            if (chunk == chunks - 1) term = bits_to_f32(f32_to_bits(term) & masks->chunk[chunk].class_bits);
            odds += term;
        }
        return odds;
    }
    const f32x8 first = load_floats(format, row, 0);
    // The usual logits: one multiply-add per eight terms.
    if (__builtin_fabsf(first.s0) <= 64.0f) return logit_odds_from(format, row, first, masks, chunks, 0);
    const f32x8 background = __builtin_shufflevector(first, first, 0, 0, 0, 0, 0, 0, 0, 0);
    f32x8 odds = bits_to_f32(f32_to_bits(bounding_exp(first - background)) & masks->chunk[0].other_class_bits);
    for (intptr_t chunk = 1; chunk < chunks; chunk++) {
        f32x8 term = bounding_exp(load_floats(format, row, chunk * 8) - background);
        if (chunk == chunks - 1) term = bits_to_f32(f32_to_bits(term) & masks->chunk[chunk].class_bits);
        odds += term;
    }
    return odds;
}

/// `logit_odds_lanes` for a box of float32 or 16-bit logits all below 32 in magnitude (the
/// pass knows it from its non-finite test of the box's block): the same lanes, without the
/// clamps and the test of the background's size.
LK_INLINE f32x8 logit_odds_lanes_unclamped(lk_format format, const uint8_t *row, const lane_masks *masks, intptr_t elements) {
    return logit_odds_from(format, row, load_floats(format, row, 0), masks, elements ? elements : masks->chunks, 1);
}

/// `ĝ` for the box whose C logits start at `row`.
LK_INLINE float logit_odds(lk_format format, const uint8_t *row, const lane_masks *masks, intptr_t elements) {
    return hsum_f32(logit_odds_lanes(format, row, masks, elements));
}

/// The pairwise sums of two vectors' lanes, per 128-bit half (`vhaddps` on AVX).
LK_INLINE f32x8 pairwise_sums(f32x8 a, f32x8 b) {
    return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

/// The sums of eight vectors' lanes, lane i for vector i (another order of additions than
/// `hsum_f32`, which the bracket's allowance for rounding covers).
LK_INLINE f32x8 sums_across(const f32x8 v[8]) {
    const f32x8 s01 = pairwise_sums(v[0], v[1]), s23 = pairwise_sums(v[2], v[3]);
    const f32x8 s45 = pairwise_sums(v[4], v[5]), s67 = pairwise_sums(v[6], v[7]);
    const f32x8 low = pairwise_sums(s01, s23), high = pairwise_sums(s45, s67);
    // low holds vectors 0-3 from the first 128-bit half, then from the second; high 4-7.
    return __builtin_shufflevector(low, high, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(low, high, 4, 5, 6, 7, 12, 13, 14, 15);
}

/// `ĝ` of eight consecutive boxes whose rows start `stride` bytes apart from `row`.
LK_INLINE f32x8 logit_odds_eight(lk_format format, const uint8_t *row, intptr_t stride, const lane_masks *masks, intptr_t elements) {
    f32x8 v[8];
    for (int i = 0; i < 8; i++) v[i] = logit_odds_lanes(format, row + i * stride, masks, elements);
    return sums_across(v);
}

/// `logit_odds_eight` for boxes whose logits are all below 32 in magnitude.
LK_INLINE f32x8 logit_odds_eight_unclamped(lk_format format, const uint8_t *row, intptr_t stride, const lane_masks *masks, intptr_t elements) {
    f32x8 v[8];
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) v[i] = logit_odds_lanes_unclamped(format, row + i * stride, masks, elements);
    return sums_across(v);
}

/// Stores eight one-hot negatives, the boxes `boxes`, as estimates with vector stores when all
/// eight are clearly non-zero (the common case): returns whether it did.
LK_INLINE int logit_negatives_store_eight(
    logit_negatives *negatives, f32x8 estimates, i64x8 boxes, pending_logs *logs, intptr_t *count) {
    const i32x8 clear = (estimates > LK_NONZERO_LIMIT) & (estimates < LK_LARGE_ESTIMATE);
    uint32_t all[8];
    memcpy(all, &clear, sizeof all);
    if ((all[0] & all[1] & all[2] & all[3] & all[4] & all[5] & all[6] & all[7]) == 0) return 0;
    pending_logs_flush(logs, *count);
    const intptr_t slot = *count;
    store_i64x8(negatives->negative_boxes + slot, boxes);
    store_f64x8(negatives->bounds + slot, __builtin_convertvector(estimates, f64x8) * LK_INVERSE_UPPER_FACTOR);
    store_f64x8(negatives->negative_losses + slot, (f64x8)-__builtin_inf());
    *count += 8;
    logs->first = *count;
    negatives->estimated += 8;
    return 1;
}

/// Records eight consecutive one-hot negatives from `box` by their estimates: together when
/// they are all clearly non-zero, otherwise one by one.
LK_INLINE void logit_negatives_record_eight(
    logit_negatives *negatives, f32x8 estimates, intptr_t box, lk_format format, const uint8_t *row,
    intptr_t stride, const lane_masks *masks, pending_logs *logs, intptr_t *count) {
    if (logit_negatives_store_eight(negatives, estimates, (i64x8){0, 1, 2, 3, 4, 5, 6, 7} + box, logs, count)) return;
    float lanes[8];
    memcpy(lanes, &estimates, sizeof lanes);
    for (int i = 0; i < 8; i++) {
        logit_negatives_record(negatives, lanes[i], box + i, format, row + i * stride, masks, logs, count);
    }
}

/// Up to eight one-hot negatives whose odds lanes wait to be summed and recorded together (the
/// keras pass meets them among other boxes). Whatever is staged must be recorded before any
/// other slot is taken, so that slots stay in box order.
typedef struct {
    f32x8 odds[8];
    int64_t boxes[8];
    const uint8_t *rows[8];
    int count;
} staged_negatives;

/// Records the staged negatives and empties the stage.
static void staged_negatives_record(
    staged_negatives *stage, logit_negatives *negatives, lk_format format, const lane_masks *masks,
    pending_logs *logs, intptr_t *count) {
    if (stage->count == 8) {
        const f32x8 estimates = sums_across(stage->odds);
        if (logit_negatives_store_eight(negatives, estimates, load_i64x8(stage->boxes), logs, count)) {
            stage->count = 0;
            return;
        }
    }
    for (int i = 0; i < stage->count; i++) {
        logit_negatives_record(negatives, hsum_f32(stage->odds[i]), stage->boxes[i], format, stage->rows[i], masks, logs, count);
    }
    stage->count = 0;
}

// The compact pass's hand-off: one float per box instead of three workspace entries per negative.
//
// The keras pass stores, for each estimated negative, its box, its bound and a loss of −∞ (24
// bytes), which the gate's selection, the refinement and the miner then read again in full. The
// compact pass instead stores each box's estimate `ĝ` at its flat index (4 bytes per box, 0 for
// every box that is not an estimated negative, written with one 32-byte store per eight
// negatives), and only the rare exact negatives as workspace entries, each with its box.
// `lk_refine_estimates` then selects over the estimates and hands the miner only the negatives
// that mining can reach (see BoxEstimates.h).

/// Records the one-hot negative `box` by its estimate: in `estimates[box]` when it is clearly
/// non-zero, exactly in a workspace entry when it is undecided or huge (`estimates[box]` then 0),
/// not at all when it is zero.
LK_INLINE void box_estimate_record(
    logit_negatives *negatives, float *estimates, float estimate, intptr_t box, lk_format format, const uint8_t *row,
    const lane_masks *masks, pending_logs *logs, intptr_t *count) {
    if (estimate > LK_NONZERO_LIMIT && estimate < LK_LARGE_ESTIMATE) {
        estimates[box] = estimate;
        negatives->estimated += 1;
        return;
    }
    estimates[box] = 0;
    if (estimate <= LK_ZERO_LIMIT) return;
    // Undecided (near the zero threshold), a huge gap, or NaN: computed exactly.
    logit_negatives_exact_box(negatives, box_loss_terms(format, row, 0, 0, masks), box, logs, count);
}

/// `box_estimate_record` for eight consecutive one-hot negatives from `box`: one store when they
/// are all clearly non-zero (the common case), otherwise one by one.
LK_INLINE void box_estimates_record_eight(
    logit_negatives *negatives, float *estimates, f32x8 values, intptr_t box, lk_format format, const uint8_t *row,
    intptr_t stride, const lane_masks *masks, pending_logs *logs, intptr_t *count) {
    const i32x8 clear = (values > LK_NONZERO_LIMIT) & (values < LK_LARGE_ESTIMATE);
    uint32_t all[8];
    memcpy(all, &clear, sizeof all);
    if ((all[0] & all[1] & all[2] & all[3] & all[4] & all[5] & all[6] & all[7]) != 0) {
        memcpy(estimates + box, &values, sizeof values);
        negatives->estimated += 8;
        return;
    }
    float lanes[8];
    memcpy(lanes, &values, sizeof lanes);
    for (int i = 0; i < 8; i++) {
        box_estimate_record(negatives, estimates, lanes[i], box + i, format, row + i * stride, masks, logs, count);
    }
}

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
    double *class_losses;
    double *bounds;
    intptr_t *negative_boxes;
    intptr_t estimated;
    /// Whether estimated entries can exist, so that exact ones must be marked for refinement.
    int marking;
} logit_negatives;

LK_INLINE void logit_negatives_init(logit_negatives *negatives, const lk_workspace *workspace, int marking) {
    negatives->negative_losses = workspace->negative_losses;
    negatives->class_losses = workspace->class_losses;
    negatives->bounds = workspace->bounds;
    negatives->negative_boxes = workspace->negative_boxes;
    negatives->estimated = 0;
    negatives->marking = marking;
}

/// Stores the exact loss `addend + log(sum)` of a negative in slot `*count` when it is not zero.
LK_INLINE void logit_negatives_exact(logit_negatives *negatives, loss_terms terms, deferred_logs *logs, intptr_t *count) {
    if (terms.addend != 0 || terms.sum != 1) {
        if (negatives->marking) negatives->negative_boxes[*count] = -1;
        deferred_logs_append(logs, terms.sum, terms.addend, *count);
        *count += 1;
    }
}

/// Records the one-hot negative `box`, whose C logits start at `row`, by its estimate `estimate`.
LK_INLINE void logit_negatives_record(
    logit_negatives *negatives, float estimate, intptr_t box, lk_format format, const uint8_t *row,
    const lane_masks *masks, deferred_logs *logs, intptr_t *count) {
    if (estimate <= LK_ZERO_LIMIT) return;
    if (estimate > LK_NONZERO_LIMIT && estimate < LK_LARGE_ESTIMATE) {
        // Stored directly: the deferred logs must not hold a slot before this one.
        deferred_logs_flush(logs);
        negatives->negative_boxes[*count] = box;
        negatives->bounds[*count] = (double)estimate * LK_INVERSE_UPPER_FACTOR;
        negatives->negative_losses[*count] = -__builtin_inf();
        *count += 1;
        negatives->estimated += 1;
        return;
    }
    // Undecided (near the zero threshold), a huge gap, or NaN: computed exactly.
    logit_negatives_exact(negatives, loss_terms_lanes(format, row, 0, 0, masks), logs, count);
}

/// `ĝ` for the box whose C logits start at `row` (a pointer to its first element).
LK_INLINE float logit_odds(lk_format format, const uint8_t *row, const lane_masks *masks) {
    f32x8 background = (f32x8)(float)load_scalar(format, row, 0);
    f32x8 odds = 0;
    for (intptr_t chunk = 0; chunk < masks->chunks; chunk++) {
        f32x8 difference = load_floats(format, row, chunk * 8) - background;
        odds += bits_to_f32(f32_to_bits(bounding_exp(difference)) & masks->chunk[chunk].other_class_bits);
    }
    return hsum_f32(odds);
}

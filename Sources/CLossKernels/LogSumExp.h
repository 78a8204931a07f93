// The exact log-sum-exp of one box's logits: for the few boxes an estimate cannot settle, for
// refinement, for positives of the compact layout, and for every box of an exact pass.
//
// A box's loss with logits is `addend + log(sum)`, where `sum = Σ_k exp(p[k] − top)` and
// `addend = top − p[target]`. The lanes equal to `top` contribute exactly 1 each and are counted
// apart from the others, whose sum is added to that count in float64: a sum of 1 + tiny keeps
// its tiny part, so the loss is zero exactly when the float64 reference's is.

typedef struct {
    double sum;
    double addend;
} loss_terms;

/// The terms of the box whose C logits start at element `row` of `base` (float32, float16 or
/// bfloat16). Reads `masks->chunks` chunks of eight elements, so lanes past the box's classes
/// must be readable.
static loss_terms loss_terms_lanes(lk_format format, const uint8_t *base, intptr_t row, intptr_t target, const lane_masks *masks) {
    f32x8 *staged = masks->staged;
    f32x8 top = (f32x8)-__builtin_inff();
    for (intptr_t chunk = 0; chunk < masks->chunks; chunk++) {
        f32x8 values = load_floats(format, base, row + chunk * 8);
        staged[chunk] = values;
        top = max_f32(top, bits_to_f32((f32_to_bits(values) & masks->chunk[chunk].class_bits) | masks->chunk[chunk].fill));
    }
    float largest = hmax_f32(top);
    f32x8 rest = 0, tops = 0;
    for (intptr_t chunk = 0; chunk < masks->chunks; chunk++) {
        i32x8 is_class = (i32x8)masks->chunk[chunk].class_bits;
        f32x8 prediction = staged[chunk];
        i32x8 at_top = is_class & (prediction == largest);
        tops += bits_to_f32((u32x8)at_top & f32_to_bits((f32x8)1.0f));
        f32x8 e = exp_f32(prediction - largest);
        rest += bits_to_f32((u32x8)(is_class & ~at_top) & f32_to_bits(e));
    }
    loss_terms terms;
    terms.sum = (double)hsum_f32(tops) + (double)hsum_f32(rest);
    terms.addend = (double)largest - load_scalar(format, base, row + target);
    return terms;
}

/// The same in float64, for float64 tensors.
static loss_terms loss_terms_doubles(const uint8_t *base, intptr_t row, intptr_t target, const lane_masks *masks) {
    f64x8 *staged = masks->staged64;
    f64x8 top = (f64x8)-__builtin_inf();
    for (intptr_t chunk = 0; chunk < masks->chunks; chunk++) {
        f64x8 values = load_doubles(base, row + chunk * 8);
        staged[chunk] = values;
        i64x8 is_class = masks->chunk[chunk].class_lanes64;
        top = max_f64(top, is_class ? values : (f64x8)-__builtin_inf());
    }
    double largest = hmax_f64(top);
    f64x8 rest = 0, tops = 0;
    for (intptr_t chunk = 0; chunk < masks->chunks; chunk++) {
        i64x8 is_class = masks->chunk[chunk].class_lanes64;
        f64x8 prediction = staged[chunk];
        i64x8 at_top = is_class & (prediction == largest);
        tops += at_top ? (f64x8)1.0 : (f64x8)0.0;
        f64x8 e = exp_f64(prediction - largest);
        rest += (is_class & ~at_top) ? e : (f64x8)0.0;
    }
    loss_terms terms;
    terms.sum = hsum_f64(tops) + hsum_f64(rest);
    terms.addend = largest - load_scalar(LK_FLOAT64, base, row + target);
    return terms;
}

/// `loss_terms_lanes` or `loss_terms_doubles`, by format.
LK_INLINE loss_terms box_loss_terms(lk_format format, const uint8_t *base, intptr_t row, intptr_t target, const lane_masks *masks) {
    return format == LK_FLOAT64 ? loss_terms_doubles(base, row, target, masks)
                                : loss_terms_lanes(format, base, row, target, masks);
}

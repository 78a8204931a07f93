// The float64 logarithm of eight lanes, and the negative losses that wait for one.

/// `log(x)` for positive, finite, normal `x`: fdlibm's `__ieee754_log` without its special
/// cases. `x = 2^k · m` with `m` in [√½, √2), `f = m − 1`, `s = f / (2 + f)`, and
/// `log(1 + f) = f − f²/2 + s·(f²/2 + R(s²))` with fdlibm's degree-7 minimax `R`: below 1 ulp,
/// and `log(1)` is exactly 0 (`k = 0`, `f = 0`). Other inputs give garbage, never a trap.
LK_INLINE f64x8 log_f64(f64x8 x) {
    u64x8 bits = (u64x8)x;
    // Adding 1 − √½ in exponent units before splitting moves the mantissa's range from [1, 2)
    // to [√½, √2), which keeps |f| ≤ 0.41 and the series short.
    u64x8 shifted = bits + (0x3FF0000000000000ull - 0x3FE6A09E00000000ull);
    u64x8 mantissa = (shifted & 0x000FFFFFFFFFFFFFull) + 0x3FE6A09E00000000ull;
    f64x8 f = (f64x8)mantissa - 1.0;
    // The biased exponent as a float64 without a 64-bit integer conversion (SSE2 and AVX2 have
    // none): placed in the mantissa of 2⁵², then 2⁵² + 1023 subtracted, exactly.
    u64x8 exponent_bits = (shifted >> 52) | 0x4330000000000000ull;
    f64x8 k = (f64x8)exponent_bits - 4503599627371519.0;
    f64x8 half_square = 0.5 * f * f;
    f64x8 s = f / (2.0 + f);
    f64x8 z = s * s;
    f64x8 w = z * z;
    f64x8 t1 = (f64x8)1.531383769920937332e-01;
    t1 = t1 * w + 2.222219843214978396e-01;
    t1 = t1 * w + 3.999999999940941908e-01;
    t1 = t1 * w;
    f64x8 t2 = (f64x8)1.479819860511658591e-01;
    t2 = t2 * w + 1.818357216161805012e-01;
    t2 = t2 * w + 2.857142874366239149e-01;
    t2 = t2 * w + 6.666666666666735130e-01;
    t2 = t2 * z;
    f64x8 r = t2 + t1;
    const double ln2_high = 6.93147180369123816490e-01;
    const double ln2_low = 1.90821492927058770002e-10;
    return s * (half_square + r) + k * ln2_low - half_square + f + k * ln2_high;
}

/// Negative losses of the form `addend ± log(argument)`, collected eight at a time so that their
/// logarithms are taken together.
///
/// A pass reserves the negative's workspace slot when it meets the box and the slot is filled at
/// the next flush. A pass flushes before it stores a negative directly, so the scheduled slots
/// are consecutive. Whether a loss is zero is decided before appending, from the argument and
/// addend alone, so `n_nonzero` never depends on the logarithm's rounding.
typedef struct {
    double arguments[8];
    double addends[8];
    intptr_t first;
    int count;
    /// Whether the loss is `addend − log(argument)` (probabilities) rather than `+`.
    int negate;
    double *negative_losses;
    double *class_losses;
} deferred_logs;

LK_INLINE void deferred_logs_init(deferred_logs *logs, const lk_workspace *workspace, int negate) {
    for (int lane = 0; lane < 8; lane++) {
        logs->arguments[lane] = 1;
        logs->addends[lane] = 0;
    }
    logs->first = 0;
    logs->count = 0;
    logs->negate = negate;
    logs->negative_losses = workspace->negative_losses;
    logs->class_losses = workspace->class_losses;
}

/// Computes and stores every scheduled loss (`nl` and `cl` are the same for these negatives).
static void deferred_logs_flush_now(deferred_logs *logs) {
    int count = logs->count;
    // Unused lanes take log(1) = 0 and are not stored.
    for (int lane = count; lane < 8; lane++) logs->arguments[lane] = 1;
    f64x8 logarithms = log_f64(load_f64x8(logs->arguments));
    f64x8 addends = load_f64x8(logs->addends);
    f64x8 losses = logs->negate ? addends - logarithms : addends + logarithms;
    if (count == 8) {
        store_f64x8(logs->negative_losses + logs->first, losses);
        store_f64x8(logs->class_losses + logs->first, losses);
    } else {
        double lanes[8];
        store_f64x8(lanes, losses);
        for (int lane = 0; lane < count; lane++) {
            logs->negative_losses[logs->first + lane] = lanes[lane];
            logs->class_losses[logs->first + lane] = lanes[lane];
        }
    }
    logs->count = 0;
}

LK_INLINE void deferred_logs_flush(deferred_logs *logs) {
    if (logs->count > 0) deferred_logs_flush_now(logs);
}

/// Schedules `addend ± log(argument)` for workspace slot `slot`, the slot after the last
/// scheduled one if any; `argument` is positive and normal.
LK_INLINE void deferred_logs_append(deferred_logs *logs, double argument, double addend, intptr_t slot) {
    if (logs->count == 0) logs->first = slot;
    logs->arguments[logs->count] = argument;
    logs->addends[logs->count] = addend;
    logs->count += 1;
    if (logs->count == 8) deferred_logs_flush_now(logs);
}

/// One logarithm, through the same code (for the few losses computed one at a time).
LK_INLINE double log_one(double x) {
    f64x8 logarithms = log_f64((f64x8)x);
    return logarithms.s0;
}

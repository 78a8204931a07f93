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

/// Negative losses of the form `addend ± log(argument)` whose logarithms are taken in blocks.
///
/// A pass writes a negative's argument straight into its slot of `negative_losses` (and, with
/// logits, its addend into the same slot of `bounds`, free until refinement) and moves on;
/// every 64 slots, `pending_logs_flush` turns the waiting slots `first ..< end` into losses,
/// eight logarithms at a time while they are still in the first-level cache. A pass flushes
/// before it stores a loss directly, so the waiting slots are always consecutive. Whether a
/// loss is zero is decided before the slot is taken, from the argument and addend alone, so
/// `n_nonzero` never depends on the logarithm's rounding.
typedef struct {
    double *negative_losses;
    /// Where the class losses go too, or NULL while they are the negative losses themselves.
    double *class_losses;
    /// The addends (logits), or NULL when they are all 0 (probabilities).
    double *addends;
    /// Whether the loss is `addend − log(argument)` (probabilities) rather than `+`.
    int negate;
    intptr_t first;
} pending_logs;

LK_INLINE void pending_logs_init(pending_logs *logs, const lk_workspace *workspace, int logits) {
    logs->negative_losses = workspace->negative_losses;
    logs->class_losses = NULL;
    logs->addends = logits ? workspace->bounds : NULL;
    logs->negate = !logits;
    logs->first = 0;
}

/// Computes the losses of slots `first ..< end` in place.
static void pending_logs_flush_now(pending_logs *logs, intptr_t end) {
    double *losses = logs->negative_losses;
    intptr_t slot = logs->first;
    for (; slot + 8 <= end; slot += 8) {
        f64x8 logarithms = log_f64(load_f64x8(losses + slot));
        f64x8 addends = logs->addends ? load_f64x8(logs->addends + slot) : (f64x8)0;
        f64x8 results = logs->negate ? addends - logarithms : addends + logarithms;
        store_f64x8(losses + slot, results);
        if (logs->class_losses) store_f64x8(logs->class_losses + slot, results);
    }
    if (slot < end) {
        // The last few, through a padded copy (unused lanes take log(1) = 0 and are not stored).
        const int lanes = (int)(end - slot);
        double arguments[8] = {1, 1, 1, 1, 1, 1, 1, 1}, addends[8] = {0}, values[8];
        for (int lane = 0; lane < lanes; lane++) {
            arguments[lane] = losses[slot + lane];
            if (logs->addends) addends[lane] = logs->addends[slot + lane];
        }
        f64x8 logarithms = log_f64(load_f64x8(arguments));
        store_f64x8(values, logs->negate ? load_f64x8(addends) - logarithms : load_f64x8(addends) + logarithms);
        for (int lane = 0; lane < lanes; lane++) {
            losses[slot + lane] = values[lane];
            if (logs->class_losses) logs->class_losses[slot + lane] = values[lane];
        }
    }
    logs->first = end;
}

/// Computes every waiting loss before slot `end`.
LK_INLINE void pending_logs_flush(pending_logs *logs, intptr_t end) {
    if (logs->first < end) pending_logs_flush_now(logs, end);
}

/// Called after a slot was taken: computes the waiting losses once there are 64.
LK_INLINE void pending_logs_taken(pending_logs *logs, intptr_t end) {
    if (end - logs->first >= 64) pending_logs_flush_now(logs, end);
}

/// Where a pass stores the class losses of its negatives. For a one-hot negative `cl = nl`, so
/// until a negative with another `t[0]` comes along (a soft target) the class losses are the
/// negative losses and are not stored twice; from the first such negative on, the pass copies
/// what it has and stores both.
typedef struct {
    double *class_losses;
    int separate;
} class_loss_store;

/// Makes the class losses separate from slot `count` on, copying the earlier ones.
static void class_losses_separate(class_loss_store *store, pending_logs *logs, intptr_t count) {
    pending_logs_flush(logs, count);
    memcpy(store->class_losses, logs->negative_losses, (size_t)count * 8);
    logs->class_losses = store->class_losses;
    store->separate = 1;
}

/// Stores a negative's losses in slot `slot` (the waiting logarithms are flushed first).
LK_INLINE void store_negative(pending_logs *logs, class_loss_store *store, intptr_t slot, double nl, double cl) {
    pending_logs_flush(logs, slot);
    if (cl != nl && !store->separate) class_losses_separate(store, logs, slot);
    logs->negative_losses[slot] = nl;
    if (store->separate) store->class_losses[slot] = cl;
    logs->first = slot + 1;
}

/// One logarithm, through the same code (for the few losses computed one at a time).
LK_INLINE double log_one(double x) {
    f64x8 logarithms = log_f64((f64x8)x);
    return logarithms.s0;
}

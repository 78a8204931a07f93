// What the passes note beside the loss, at no cost for the common box: per-class figures of the
// positives (rare, and already on the exact path) and the image where a non-finite value was seen.

/// The class of a keras positive: the index of the largest of its targets t[1..C-1], the first
/// on ties (the entry that set its `pos`). Reads the box's class targets again, from cache.
static intptr_t keras_positive_class(lk_format format, const uint8_t *y_true, intptr_t row, intptr_t classes) {
    intptr_t found = 1;
    double largest = load_scalar(format, y_true, row + 1);
    for (intptr_t k = 2; k < classes; k++) {
        const double t = load_scalar(format, y_true, row + k);
        if (t > largest) {
            largest = t;
            found = k;
        }
    }
    return found;
}

/// Adds a positive of class `label`, weight `pos` and classification share `share` (`cl * pos`)
/// to the per-class diagnostics, when the caller asked for them.
LK_INLINE void note_positive_class(lk_sums *sums, intptr_t label, double pos, double share) {
    if (!sums->class_positives) return;
    sums->class_positives[label] += pos;
    sums->class_classification[label] += share;
}

/// Whether a pass's non-finite accumulators have seen a NaN or ±Inf so far.
LK_INLINE int pass_saw_nonfinite(lk_format format, uint64_t scalar_marks, u64x4 marks) {
    return saw_nonfinite_scalar(scalar_marks) || marks_saw_nonfinite(format, marks);
}

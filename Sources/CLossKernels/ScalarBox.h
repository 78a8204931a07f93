// The exact per-box computation for any keras box: soft, signed or −0 targets, positives,
// ignored boxes. The vectorized passes recognize the common boxes on their bits and send every
// other one here, element by element in float64, as SPEC §1 writes it.

typedef struct {
    double cl;
    double neg;
    double pos;
} class_terms;

/// `cl`, `neg = t[0]` and `pos = max(t[1..C-1])` of the keras box whose class entries start at
/// element `row` of `y_true` and `y_pred`; ORs a `nonfinite_mark` of every value into `marks`.
/// Terms with `t[k] == 0` contribute exactly 0 and take no logarithm.
static class_terms keras_class_terms(
    lk_format format, int logits, const uint8_t *y_true, const uint8_t *y_pred, intptr_t row, intptr_t classes,
    uint64_t *marks) {
    class_terms terms;
    double t0 = load_scalar(format, y_true, row);
    uint64_t m = nonfinite_mark(t0);
    double pos = load_scalar(format, y_true, row + 1);
    terms.neg = t0;
    if (!logits) {
        double p0 = load_scalar(format, y_pred, row);
        m |= nonfinite_mark(p0);
        double cl = t0 != 0 ? -t0 * log(dmax(p0, 1e-15)) : 0;
        for (intptr_t k = 1; k < classes; k++) {
            double t = load_scalar(format, y_true, row + k);
            double p = load_scalar(format, y_pred, row + k);
            m |= nonfinite_mark(t) | nonfinite_mark(p);
            if (t != 0) cl -= t * log(dmax(p, 1e-15));
            pos = dmax(pos, t);
        }
        *marks |= m;
        terms.cl = cl;
        terms.pos = pos;
        return terms;
    }
    int any = t0 != 0;
    for (intptr_t k = 1; k < classes; k++) {
        double t = load_scalar(format, y_true, row + k);
        m |= nonfinite_mark(t);
        any = any || t != 0;
        pos = dmax(pos, t);
    }
    double top = load_scalar(format, y_pred, row);
    m |= nonfinite_mark(top);
    for (intptr_t k = 1; k < classes; k++) {
        double p = load_scalar(format, y_pred, row + k);
        m |= nonfinite_mark(p);
        top = dmax(top, p);
    }
    *marks |= m;
    terms.pos = pos;
    terms.cl = 0;
    if (!any || saw_nonfinite_scalar(m)) return terms;
    double sum = 0;
    for (intptr_t k = 0; k < classes; k++) sum += exp(load_scalar(format, y_pred, row + k) - top);
    double lse = log(sum);
    double cl = 0;
    for (intptr_t k = 0; k < classes; k++) {
        double t = load_scalar(format, y_true, row + k);
        if (t != 0) cl -= t * ((load_scalar(format, y_pred, row + k) - top) - lse);
    }
    terms.cl = cl;
    return terms;
}

/// `sum_j smoothL1(truth[j] − prediction[j])` over the 4 offsets from element `truth_row` of
/// `truth` and `prediction_row` of `prediction`; `smoothL1(d) = 0.5 d²` if `|d| < 1`, else
/// `|d| − 0.5`.
static double localization_loss(
    lk_format format, const uint8_t *truth, intptr_t truth_row, const uint8_t *prediction, intptr_t prediction_row,
    uint64_t *marks) {
    double ll = 0;
    uint64_t m = 0;
    for (int j = 0; j < 4; j++) {
        double g = load_scalar(format, truth, truth_row + j);
        double p = load_scalar(format, prediction, prediction_row + j);
        m |= nonfinite_mark(g) | nonfinite_mark(p);
        double d = g - p;
        double a = fabs(d);
        ll += a < 1 ? 0.5 * d * d : a - 0.5;
    }
    *marks |= m;
    return ll;
}

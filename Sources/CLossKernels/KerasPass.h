// The streaming pass over a keras-layout batch: `y_true` and `y_pred`, each `[B, N, C + 12]`.
//
// Almost every box of an SSD batch is a one-hot negative: `t[0] = 1`, every other target 0. The
// pass recognizes those on their bits alone (the class bytes of `y_true` XOR the one-hot
// negative's, OR-ed over the box), reads `p[0]`, and leaves the logarithm to the deferred logs
// (or the 16-bit table); with logits it estimates the loss instead (LogitNegatives.h). A box
// whose class targets are all zero is ignored at once. Every other box (positives, soft or −0
// targets) takes the exact float64 computation of ScalarBox.h.
//
// Non-finite values: every box's class entries and offsets of `y_pred`, and offsets of `y_true`,
// go through the exponent test on their bits; a non-finite target can never look one-hot or
// zero, so it reaches the exact computation, which marks it. Neither test has false positives.

/// Per-image sums, kept as the pass goes.
typedef struct {
    double positives;
    double class_positive;
    double localization;
} image_sums;

LK_INLINE void keras_pass_body(
    const lk_format format, const int logits, const int exact, const lk_batch *batch, const lk_workspace *workspace,
    lk_sums *sums, const lane_masks *masks) {
    const intptr_t classes = batch->classes;
    const intptr_t width = classes + 12;
    const intptr_t w = element_bytes(format);
    const intptr_t row_bytes = width * w;
    const uint8_t *y_true = batch->y_true;
    const uint8_t *y_pred = batch->y_pred;
    // Bytes a box's vector reads take from its row's start; the boxes whose reads would run past
    // the end of the tensors read zero-padded copies instead.
    intptr_t span = masks->box_byte_chunks * 32;
    if (masks->chunks * 8 * w > span) span = masks->chunks * 8 * w;
    const intptr_t box_count = batch->batch * batch->boxes;
    const intptr_t total_bytes = box_count * row_bytes;
    const intptr_t direct_boxes = total_bytes >= span ? (total_bytes - span) / row_bytes + 1 : 0;
    uint8_t *tail = aligned_bytes((size_t)span * 2);
    if (!tail) abort();
    uint8_t *tail_true = tail, *tail_pred = tail + span;

    const double *table = (!logits && (format == LK_FLOAT16 || format == LK_BFLOAT16)) ? lk_negative_log_table(format) : NULL;
    // With estimates, exact entries are marked so that refinement can tell them apart.
    const int estimating = logits && !exact && format != LK_FLOAT64;
    deferred_logs logs;
    deferred_logs_init(&logs, workspace, !logits);
    logit_negatives negatives;
    logit_negatives_init(&negatives, workspace, estimating);
    double *negative_losses = workspace->negative_losses;
    double *class_losses = workspace->class_losses;
    intptr_t count = 0;
    uint64_t scalar_marks = 0;
    u64x4 marks = 0;
    const intptr_t class_chunks = masks->class_byte_chunks;
    const intptr_t box_chunks = masks->box_byte_chunks;
    const intptr_t offset_chunk = masks->first_offset_chunk;
    const byte_masks *bytes = masks->bytes;

    for (intptr_t b = 0; b < batch->batch; b++) {
        image_sums image = {0, 0, 0};
        for (intptr_t n = 0; n < batch->boxes; n++) {
            const intptr_t box = b * batch->boxes + n;
            const intptr_t row = box * width;
            const uint8_t *t = y_true + box * row_bytes;
            const uint8_t *p = y_pred + box * row_bytes;
            if (box >= direct_boxes) {
                memset(tail, 0, (size_t)span * 2);
                memcpy(tail_true, t, (size_t)(row_bytes < span ? row_bytes : span));
                memcpy(tail_pred, p, (size_t)(row_bytes < span ? row_bytes : span));
                t = tail_true;
                p = tail_pred;
            }
            u64x4 not_negative = 0;
            for (intptr_t c = 0; c < class_chunks; c++) {
                not_negative |= (load_bytes32(t + c * 32) & bytes[c].class_bytes) ^ bytes[c].negative_target;
            }
            for (intptr_t c = 0; c < box_chunks; c++) {
                marks |= exponent_marks(format, load_bytes32(p + c * 32) & bytes[c].prediction_exponents);
            }
            for (intptr_t c = offset_chunk; c < box_chunks; c++) {
                marks |= exponent_marks(format, load_bytes32(t + c * 32) & bytes[c].offset_exponents);
            }
            if (is_zero32(not_negative)) {
                if (logits) {
                    if (estimating) {
                        logit_negatives_record(&negatives, logit_odds(format, p, masks), box, format, p, masks, &logs, &count);
                    } else {
                        logit_negatives_exact(&negatives, box_loss_terms(format, p, 0, 0, masks), &logs, &count);
                    }
                } else if (table) {
                    double nl = table[load_pattern(p, 0)];
                    if (nl != 0) {
                        negative_losses[count] = nl;
                        class_losses[count] = nl;
                        count += 1;
                    }
                } else {
                    double argument = dmax(load_scalar(format, p, 0), 1e-15);
                    if (argument != 1) {
                        deferred_logs_append(&logs, argument, 0, count);
                        count += 1;
                    }
                }
                continue;
            }
            u64x4 targets = 0;
            for (intptr_t c = 0; c < class_chunks; c++) targets |= load_bytes32(t + c * 32) & bytes[c].class_bytes;
            if (is_zero32(targets)) continue; // ignored: cl, neg and pos are 0
            class_terms terms = keras_class_terms(format, logits, y_true, y_pred, row, classes, &scalar_marks);
            if (terms.pos != 0) {
                double ll = localization_loss(format, y_true, row + classes, y_pred, row + classes, &scalar_marks);
                image.positives += terms.pos;
                image.class_positive += terms.cl * terms.pos;
                image.localization += ll * terms.pos;
            }
            if (terms.neg != 0) {
                double nl = terms.cl * terms.neg;
                if (nl != 0) {
                    deferred_logs_flush(&logs);
                    if (estimating) workspace->negative_boxes[count] = -1;
                    negative_losses[count] = nl;
                    class_losses[count] = terms.cl;
                    count += 1;
                }
            }
        }
        sums->positives[b] = image.positives;
        sums->class_positive[b] = image.class_positive;
        sums->localization[b] = image.localization;
        sums->segment_ends[b] = count;
    }
    deferred_logs_flush(&logs);
    free(tail);
    sums->estimated = negatives.estimated;
    sums->saw_nonfinite = saw_nonfinite_scalar(scalar_marks) || !is_zero32(marks & sign_bits32(format));
}

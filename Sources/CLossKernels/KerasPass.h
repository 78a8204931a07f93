// The streaming pass over a keras-layout batch: `y_true` and `y_pred`, each `[B, N, C + 12]`.
//
// Almost every box of an SSD batch is a one-hot negative: `t[0] = 1`, every other target 0. The
// pass recognizes those on their bits alone (the class bytes of `y_true` XOR the one-hot
// negative's, OR-ed over the box), reads `p[0]`, and leaves the logarithm to the pending logs
// (or the 16-bit table); with logits it estimates the loss instead (LogitNegatives.h). A box
// whose class targets are all zero is ignored at once. Every other box (positives, soft or −0
// targets) takes the exact float64 computation of ScalarBox.h.
//
// Non-finite values: every box's class entries and offsets of `y_pred`, and offsets of `y_true`,
// go through the exponent test on their bits; a non-finite target can never look one-hot or
// zero, so it reaches the exact computation, which marks it. Neither test has false positives.
// The marks are read at the end of each image: the pass stops at the first image that saw one
// (`lk_sums.nonfinite_image`), so that the values can be located from there on (Diagnostics.h).

/// Per-image sums, kept as the pass goes.
typedef struct {
    double positives;
    double class_positive;
    double localization;
} image_sums;

/// Hands image `b`'s sums and the end of its workspace entries to the caller.
LK_INLINE void store_image_sums(lk_sums *sums, intptr_t b, image_sums image, intptr_t entries_end) {
    sums->positives[b] = image.positives;
    sums->class_positive[b] = image.class_positive;
    sums->localization[b] = image.localization;
    sums->segment_ends[b] = entries_end;
}

/// The bit tests of one keras box whose class entries take `chunks` chunks of 32 bytes (a
/// constant in the specialized copies): whether the box is a one-hot negative, with the
/// exponent tests of `y_pred`'s class entries and both tensors' offsets folded into `*marks`,
/// and those of the class entries alone into `*class_marks` (from 0).
LK_INLINE int keras_box_is_negative(
    lk_format format, const uint8_t *t, const uint8_t *p, const byte_masks *bytes, intptr_t chunks,
    intptr_t offsets, u64x4 *marks, u64x4 *class_marks) {
    u64x4 not_negative = 0;
    u64x4 classes = 0;
    for (intptr_t c = 0; c < chunks; c++) {
        u64x4 truth = load_bytes32(t + c * 32);
        const u64x4 prediction = load_bytes32(p + c * 32);
        if (c == chunks - 1) truth &= bytes->last_class_bytes;
        if (c == 0) truth ^= bytes->negative_target;
        not_negative |= truth;
        const u64x4 exponents = prediction & (c == chunks - 1 ? bytes->last_class_exponents : bytes->exponents);
        classes = marks_fold(format, classes, exponents);
    }
    *class_marks = classes;
    u64x4 m = marks_merge(format, *marks, classes);
    m = marks_fold(format, m, load_bytes32(p + offsets) & bytes->offset_exponents);
    m = marks_fold(format, m, load_bytes32(t + offsets) & bytes->offset_exponents);
    // Keeps the accumulator in a register, computed here: otherwise the compiler sinks the
    // folds below the branch on the result and spills their operands to the stack.
#if LK_AVX2
    __asm__("" : "+x"(m));
#else
    u64x2 low = m.lo, high = m.hi;
    __asm__("" : "+x"(low), "+x"(high));
    m = (u64x4){low.x, low.y, high.x, high.y};
#endif
    *marks = m;
    return is_zero32(not_negative);
}

/// Whether the box is one-hot with a positive label, which `*label` then gets: every class
/// target 0 or 1, exactly one of them 1 (read as float64, the first `classes` of them).
static int keras_box_positive_label(lk_format format, const uint8_t *y_true, intptr_t row, intptr_t classes, intptr_t *label) {
    intptr_t found = -1;
    for (intptr_t k = 0; k < classes; k++) {
        const double t = load_scalar(format, y_true, row + k);
        if (t == 1 && found < 0) {
            found = k;
        } else if (t != 0 || (t == 0 && signbit(t))) {
            return 0;
        }
    }
    *label = found;
    return found > 0;
}

/// The pass; `fixed_chunks` is the number of 32-byte chunks of a box's class entries and
/// `fixed_elements` the number of chunks of eight of its logits when the copy is specialized for
/// them, 0 when they are read from `masks`.
LK_INLINE void keras_pass_body(
    const lk_format format, const int logits, const int exact, const lk_batch *batch, const lk_workspace *workspace,
    lk_sums *sums, const lane_masks *masks, const intptr_t fixed_chunks, const intptr_t fixed_elements) {
    const intptr_t classes = batch->classes;
    const intptr_t width = classes + 12;
    const intptr_t w = element_bytes(format);
    const intptr_t row_bytes = width * w;
    const intptr_t chunks = fixed_chunks ? fixed_chunks : masks->class_byte_chunks;
    const intptr_t offsets = classes * w;
    const uint8_t *y_true = batch->y_true;
    const uint8_t *y_pred = batch->y_pred;
    // Bytes a box's vector reads take from its row's start; the boxes whose reads would run past
    // the end of the tensors read zero-padded copies instead.
    intptr_t span = masks->test_span;
    if (masks->chunks * 8 * w > span) span = masks->chunks * 8 * w;
    const intptr_t box_count = batch->batch * batch->boxes;
    const intptr_t total_bytes = box_count * row_bytes;
    const intptr_t direct_boxes = total_bytes >= span ? (total_bytes - span) / row_bytes + 1 : 0;
    uint8_t *tail = aligned_bytes((size_t)span * 2);
    if (!tail) abort();
    uint8_t *tail_true = tail, *tail_pred = tail + span;

    const double *table = (!logits && (format == LK_FLOAT16 || format == LK_BFLOAT16)) ? lk_negative_log_table(format) : NULL;
    // With estimates, exact entries are marked so that refinement can tell them apart.
    const int estimating = logits && !exact;
    pending_logs logs;
    pending_logs_init(&logs, workspace, logits);
    class_loss_store store = {workspace->class_losses, 0};
    logit_negatives negatives;
    logit_negatives_init(&negatives, workspace, estimating);
    staged_negatives stage;
    stage.count = 0;
    double *negative_losses = workspace->negative_losses;
    const byte_masks *bytes = &masks->bytes;
    intptr_t count = 0;
    uint64_t scalar_marks = 0;
    u64x4 marks = 0;

    // float32 probabilities: runs of one-hot negatives take the loop of KerasNegativeRun.h.
    const int negative_runs = !logits && format == LK_FLOAT32 && classes >= 8;

    intptr_t box = 0;
    for (intptr_t b = 0; b < batch->batch; b++) {
        image_sums image = {0, 0, 0};
        for (const intptr_t image_end = box + batch->boxes; box < image_end; box++) {
            if (negative_runs) {
                box = keras_f32_negative_run(y_true, y_pred, row_bytes, classes, chunks, box, image_end, bytes, &logs, &count, &marks);
                if (box == image_end) break;
            }
            const uint8_t *t = y_true + box * row_bytes;
            const uint8_t *p = y_pred + box * row_bytes;
            if (__builtin_expect(box >= direct_boxes, 0)) {
                memset(tail, 0, (size_t)span * 2);
                memcpy(tail_true, t, (size_t)(row_bytes < span ? row_bytes : span));
                memcpy(tail_pred, p, (size_t)(row_bytes < span ? row_bytes : span));
                t = tail_true;
                p = tail_pred;
            }
            u64x4 class_marks;
            if (keras_box_is_negative(format, t, p, bytes, chunks, offsets, &marks, &class_marks)) {
                if (logits) {
                    if (estimating && box < direct_boxes) {
                        // Staged: eight at a time, their estimates are summed and recorded together.
                        // Every logit of the box below 32 in magnitude: no clamps needed.
                        stage.odds[stage.count] = marks_below_32(format, class_marks)
                                                      ? logit_odds_lanes_unclamped(format, p, masks, fixed_elements)
                                                      : logit_odds_lanes(format, p, masks, fixed_elements);
                        stage.boxes[stage.count] = box;
                        stage.rows[stage.count] = p;
                        stage.count += 1;
                        if (stage.count == 8) staged_negatives_record(&stage, &negatives, format, masks, &logs, &count);
                    } else if (estimating) {
                        staged_negatives_record(&stage, &negatives, format, masks, &logs, &count);
                        logit_negatives_record(
                            &negatives, logit_odds(format, p, masks, fixed_elements), box, format, p, masks, &logs, &count);
                    } else {
                        logit_negatives_exact(&negatives, box_loss_terms(format, p, 0, 0, masks), &logs, &count);
                    }
                } else if (table) {
                    // One-hot negatives only, so the class losses (once separate) equal these.
                    const double nl = table[load_pattern(p, 0)];
                    if (nl != 0) {
                        negative_losses[count] = nl;
                        if (store.separate) store.class_losses[count] = nl;
                        count += 1;
                    }
                } else {
                    const double argument = dmax(load_scalar(format, p, 0), 1e-15);
                    if (argument != 1) {
                        negative_losses[count] = argument;
                        count += 1;
                        pending_logs_taken(&logs, count);
                    }
                }
                continue;
            }
            u64x4 targets = 0;
            for (intptr_t c = 0; c < chunks; c++) {
                targets |= load_bytes32(t + c * 32) & (c == chunks - 1 ? bytes->last_class_bytes : (u64x4)~0ull);
            }
            if (is_zero32(targets)) continue; // ignored: cl, neg and pos are 0
            if (stage.count > 0) staged_negatives_record(&stage, &negatives, format, masks, &logs, &count);
            const intptr_t row = box * width;
            intptr_t label;
            if (logits && keras_box_positive_label(format, y_true, row, classes, &label)) {
                // A one-hot positive: its log-softmax in lanes, as the compact layout computes it
                // (the offsets were checked with the box's other values).
                loss_terms terms = box_loss_terms(format, p, 0, label, masks);
                const double cl = terms.addend + log_one(terms.sum);
                image.positives += 1;
                image.class_positive += cl;
                note_positive_class(sums, label, 1, cl);
                image.localization += localization_loss(format, y_true, row + classes, y_pred, row + classes, &scalar_marks);
                continue;
            }
            class_terms terms = keras_class_terms(format, logits, y_true, y_pred, row, classes, &scalar_marks);
            if (terms.pos != 0) {
                double ll = localization_loss(format, y_true, row + classes, y_pred, row + classes, &scalar_marks);
                image.positives += terms.pos;
                image.class_positive += terms.cl * terms.pos;
                image.localization += ll * terms.pos;
                if (sums->class_positives) {
                    note_positive_class(sums, keras_positive_class(format, y_true, row, classes), terms.pos, terms.cl * terms.pos);
                }
            }
            if (terms.neg != 0) {
                double nl = terms.cl * terms.neg;
                if (nl != 0) {
                    // The table path takes no logarithms: nothing before this slot waits.
                    if (table) logs.first = count;
                    if (estimating) workspace->negative_boxes[count] = -1;
                    store_negative(&logs, &store, count, nl, terms.cl);
                    count += 1;
                }
            }
        }
        if (stage.count > 0) staged_negatives_record(&stage, &negatives, format, masks, &logs, &count);
        store_image_sums(sums, b, image, count);
        if (__builtin_expect(pass_saw_nonfinite(format, scalar_marks, marks), 0)) {
            sums->nonfinite_image = b;
            break;
        }
    }
    if (!table) pending_logs_flush(&logs, count);
    free(tail);
    sums->estimated = negatives.estimated;
    sums->class_losses_separate = store.separate;
    sums->saw_nonfinite = saw_nonfinite_scalar(scalar_marks) || marks_saw_nonfinite(format, marks);
}

// The streaming pass over a compact-layout batch: `labels` int32 `[B, N]`, `gt_offsets [B, N, 4]`,
// `scores [B, N, C]`, `pred_offsets [B, N, 4]`, whose loss is that of the equivalent one-hot
// keras batch.
//
// Scores are checked for non-finite values block by block (1024 boxes, small enough to stay in
// cache for the loss that follows) as the contiguous tensor they are; the offsets image by image. With probabilities a box needs only its label's score: the 16-bit table
// or a pending logarithm. With logits a negative is estimated unless the pass is exact, and its
// estimate left at its box in `workspace->estimates` (LogitNegatives.h, BoxEstimates.h); a
// positive gets its exact log-sum-exp at once.

/// Folds the exponent test of elements `from ..< to` at `base` into `marks` (32 bytes at a time,
/// see `marks_fold`) and `scalar` (the rest).
LK_INLINE void mark_elements(lk_format format, const uint8_t *base, intptr_t from, intptr_t to, u64x4 *marks, uint64_t *scalar) {
    const intptr_t w = element_bytes(format);
    const u64x4 exponent = exponent_bits32(format);
    intptr_t byte = from * w;
    const intptr_t end = to * w;
    u64x4 m = *marks;
    while (byte + 128 <= end) {
        m = marks_fold(format, m, load_bytes32(base + byte) & exponent);
        m = marks_fold(format, m, load_bytes32(base + byte + 32) & exponent);
        m = marks_fold(format, m, load_bytes32(base + byte + 64) & exponent);
        m = marks_fold(format, m, load_bytes32(base + byte + 96) & exponent);
        byte += 128;
    }
    while (byte + 32 <= end) {
        m = marks_fold(format, m, load_bytes32(base + byte) & exponent);
        byte += 32;
    }
    if (byte < end && end - from * w >= 32) {
        // The last elements with the 32 bytes that end with them (a maximum or an OR counts an
        // element twice without harm): every element is in the vector accumulator.
        m = marks_fold(format, m, load_bytes32(base + end - 32) & exponent);
        byte = end;
    }
    *marks = m;
    for (intptr_t element = byte / w; element < to; element++) *scalar |= nonfinite_mark(load_scalar(format, base, element));
}

/// Asks for the cache lines from `*cursor` up to `upto` to be brought into L2, and moves the
/// cursor there.
LK_INLINE void prefetch_lines(const uint8_t **cursor, const uint8_t *upto) {
    for (const uint8_t *line = *cursor; line < upto; line += 64) {
        __builtin_prefetch(line, 0, 2);
        *cursor = line + 64;
    }
}

/// `sum_j smoothL1(gt[j] − pred[j])` of compact box `box`.
LK_INLINE double compact_localization(lk_format format, const uint8_t *gt_offsets, const uint8_t *pred_offsets, intptr_t box) {
    double ll = 0;
    for (int j = 0; j < 4; j++) {
        double d = load_scalar(format, gt_offsets, box * 4 + j) - load_scalar(format, pred_offsets, box * 4 + j);
        double a = fabs(d);
        ll += a < 1 ? 0.5 * d * d : a - 0.5;
    }
    return ll;
}

/// The pass; `fixed_elements` is the number of chunks of eight of a box's scores when the copy
/// is specialized for it, 0 when it is read from `masks`.
LK_INLINE void compact_pass_body(
    const lk_format format, const int logits, const int exact, const lk_batch *batch, const lk_workspace *workspace,
    lk_sums *sums, const lane_masks *masks, const intptr_t fixed_elements) {
    const intptr_t classes = batch->classes;
    const intptr_t w = element_bytes(format);
    const uint8_t *labels = batch->labels;
    const uint8_t *scores = batch->scores;
    const uint8_t *gt_offsets = batch->gt_offsets;
    const uint8_t *pred_offsets = batch->pred_offsets;
    // The chunks of the last boxes would read past the end of `scores`: those boxes read a
    // zero-padded copy. Boxes before `direct_boxes` read in place.
    const intptr_t span = masks->chunks * 8;
    const intptr_t box_count = batch->batch * batch->boxes;
    const intptr_t total = box_count * classes;
    const intptr_t direct_boxes = total >= span ? (total - span) / classes + 1 : 0;
    uint8_t *tail = aligned_bytes((size_t)(span * w));
    if (!tail) abort();

    const double *table = (!logits && (format == LK_FLOAT16 || format == LK_BFLOAT16)) ? lk_negative_log_table(format) : NULL;
    const int estimating = logits && !exact;
    // A compact negative is one-hot: its class loss is its negative loss, stored once.
    pending_logs logs;
    pending_logs_init(&logs, workspace, logits);
    logit_negatives negatives;
    logit_negatives_init(&negatives, workspace, estimating);
    float *const estimates = workspace->estimates;
    double *negative_losses = workspace->negative_losses;
    intptr_t count = 0;
    u64x4 marks = 0;
    uint64_t scalar_marks = 0;
    sums->bad_label_box = -1;
    struct {
        intptr_t box;
        const uint8_t *scores, *labels, *gt_offsets, *pred_offsets;
    } ahead = {0, scores, labels, gt_offsets, pred_offsets};

    for (intptr_t b = 0; b < batch->batch; b++) {
        image_sums image = {0, 0, 0};
        const intptr_t first_box = b * batch->boxes;
        for (intptr_t block = 0; block < batch->boxes; block += 1024) {
            const intptr_t block_end = block + 1024 < batch->boxes ? block + 1024 : batch->boxes;
            // The block's non-finite test, which also tells whether every logit in it is below
            // 32 in magnitude: then the estimates need no clamps.
            u64x4 block_marks = 0;
            const intptr_t block_from = (first_box + block) * classes, block_to = (first_box + block_end) * classes;
            mark_elements(format, scores, block_from, block_to, &block_marks, &scalar_marks);
            const int unclamped = estimating && (block_to - block_from) * w >= 32 && marks_below_32(format, block_marks);
            marks = marks_merge(format, marks, block_marks);
            for (intptr_t n = block; n < block_end; n++) {
                const intptr_t box = first_box + n;
                if (!logits && box >= ahead.box) {
                    // Every tensor a block ahead, 16 boxes at a time as the boxes go by, so that
                    // the next block's non-finite test (and the offsets' at the image's end)
                    // reads them from L2 rather than waiting on L3.
                    ahead.box = box + 16;
                    const intptr_t upto = box + 1040 < box_count ? box + 1040 : box_count;
                    prefetch_lines(&ahead.scores, scores + upto * classes * w);
                    prefetch_lines(&ahead.labels, labels + upto * 4);
                    prefetch_lines(&ahead.gt_offsets, gt_offsets + upto * 4 * w);
                    prefetch_lines(&ahead.pred_offsets, pred_offsets + upto * 4 * w);
                }
                if (!logits && n + 8 <= block_end && is_zero32(load_bytes32(labels + box * 4))) {
                    // Eight negatives in a row: their losses (or the arguments of their
                    // logarithms) go straight to the next eight slots, and the slots are kept
                    // when none of the eight is zero (a probability of exactly 1), as almost
                    // always; otherwise the boxes are taken one by one below.
                    const uint8_t *row = scores + box * classes * w;
                    double *slots = negative_losses + count;
                    for (int i = 0; i < 8; i++) {
                        slots[i] = table ? table[load_pattern(row + i * classes * w, 0)]
                                         : dmax(load_scalar(format, row + i * classes * w, 0), 1e-15);
                    }
                    const i64x8 zero = table ? load_f64x8(slots) == 0.0 : load_f64x8(slots) == 1.0;
                    if (__builtin_reduce_or(zero) == 0) {
                        count += 8;
                        if (!table) pending_logs_taken(&logs, count);
                        n += 7;
                        continue;
                    }
                }
                if (estimating && n + 8 <= block_end && box + 8 <= direct_boxes) {
                    // Eight negatives in a row (most groups of eight in an SSD batch): their
                    // estimates summed and recorded together.
                    u64x4 eight = load_bytes32(labels + box * 4);
                    if (is_zero32(eight)) {
                        const uint8_t *row = scores + box * classes * w;
                        if (box + 1024 + 8 <= box_count) {
                            // The same boxes of the next block towards the second-level cache,
                            // so that its non-finite test, which reads it first, need not wait
                            // for the last-level cache while the estimates here keep the core busy.
                            const uint8_t *ahead = row + 1024 * classes * w;
                            for (intptr_t line = 0; line < 8 * classes * w; line += 64) __builtin_prefetch(ahead + line, 0, 1);
                        }
                        // Likewise the eight boxes' offsets, which the image's end reads.
                        __builtin_prefetch(gt_offsets + box * 4 * w, 0, 1);
                        __builtin_prefetch(pred_offsets + box * 4 * w, 0, 1);
                        const f32x8 odds = unclamped ? logit_odds_eight_unclamped(format, row, classes * w, masks, fixed_elements)
                                                     : logit_odds_eight(format, row, classes * w, masks, fixed_elements);
                        box_estimates_record_eight(&negatives, estimates, odds, box, format, row, classes * w, masks, &logs, &count);
                        n += 7;
                        continue;
                    }
                }
                // A box the estimating path does not record (ignored, positive, an exact or zero
                // negative) has no estimate.
                if (estimating) estimates[box] = 0;
                int32_t label;
                memcpy(&label, labels + box * 4, 4);
                if ((uint64_t)((int64_t)label + 1) > (uint64_t)classes) {
                    sums->bad_label_box = box;
                    sums->bad_label = label;
                    free(tail);
                    return;
                }
                if (label < 0) continue;
                const uint8_t *row = scores + box * classes * w;
                if (logits && box >= direct_boxes) {
                    memset(tail, 0, (size_t)(span * w));
                    memcpy(tail, row, (size_t)(classes * w));
                    row = tail;
                }
                if (!logits) {
                    double cl;
                    if (table) {
                        cl = table[load_pattern(row, label)];
                        if (label == 0) {
                            if (cl != 0) {
                                negative_losses[count] = cl;
                                count += 1;
                            }
                            continue;
                        }
                    } else {
                        double argument = dmax(load_scalar(format, row, label), 1e-15);
                        if (label == 0) {
                            if (argument != 1) {
                                negative_losses[count] = argument;
                                count += 1;
                                pending_logs_taken(&logs, count);
                            }
                            continue;
                        }
                        cl = -log_one(argument);
                    }
                    image.positives += 1;
                    image.class_positive += cl;
                    image.localization += compact_localization(format, gt_offsets, pred_offsets, box);
                    note_positive_class(sums, label, 1, cl);
                    continue;
                }
                if (label == 0) {
                    if (estimating) {
                        const float estimate = unclamped ? hsum_f32(logit_odds_lanes_unclamped(format, row, masks, fixed_elements))
                                                         : logit_odds(format, row, masks, fixed_elements);
                        box_estimate_record(&negatives, estimates, estimate, box, format, row, masks, &logs, &count);
                    } else {
                        logit_negatives_exact(&negatives, box_loss_terms(format, row, 0, 0, masks), &logs, &count);
                    }
                    continue;
                }
                loss_terms terms = box_loss_terms(format, row, 0, label, masks);
                const double cl = terms.addend + log_one(terms.sum);
                image.positives += 1;
                image.class_positive += cl;
                image.localization += compact_localization(format, gt_offsets, pred_offsets, box);
                note_positive_class(sums, label, 1, cl);
            }
        }
        // Every non-zero negative so far: the exact entries and the estimates.
        store_image_sums(sums, b, image, count + negatives.estimated);
        // The image's offsets, so that a non-finite value stops the pass at its image.
        mark_elements(format, gt_offsets, first_box * 4, (first_box + batch->boxes) * 4, &marks, &scalar_marks);
        mark_elements(format, pred_offsets, first_box * 4, (first_box + batch->boxes) * 4, &marks, &scalar_marks);
        if (__builtin_expect(pass_saw_nonfinite(format, scalar_marks, marks), 0)) {
            sums->nonfinite_image = b;
            break;
        }
    }
    if (!table) pending_logs_flush(&logs, count);
    free(tail);
    sums->class_losses_separate = 0;
    sums->estimated = negatives.estimated;
    sums->estimates_per_box = estimating;
    sums->exact_entries = count;
    sums->saw_nonfinite = saw_nonfinite_scalar(scalar_marks) || marks_saw_nonfinite(format, marks);
}

// Exact losses for the logits negatives that a pass only estimated, where mining can pick them.
//
// SSDLoss computes, per mining scope, the gate: the smallest bound of an estimated negative
// whose loss can still reach the k-th largest. Every estimated negative of the scope at or above
// it gets its exact loss here; the others keep their −∞ and can never be mined. In an SSD batch
// that is barely more than the k mined: a few percent of the boxes.

/// Rearranges `values[0 ..< count]` so that `values[target]` is the (target + 1)-th largest
/// (Hoare's quickselect, middle pivot), and returns it.
static double select_descending(double *values, intptr_t count, intptr_t target) {
    intptr_t low = 0, high = count - 1;
    while (low < high) {
        const double pivot = values[low + (high - low) / 2];
        intptr_t i = low, j = high;
        while (i <= j) {
            while (values[i] > pivot) i++;
            while (values[j] < pivot) j--;
            if (i <= j) {
                const double swap = values[i];
                values[i] = values[j];
                values[j] = swap;
                i++;
                j--;
            }
        }
        if (target <= j) {
            high = j;
        } else if (target >= i) {
            low = i;
        } else {
            break;
        }
    }
    return values[target];
}

/// How a selection of the k-th largest of `count` values samples them first: every `stride`-th
/// value, `samples` of them (at most 1024), the threshold being the sample's (rank + 1)-th
/// largest; `samples` is 0 when sampling does not pay (few values, or k not a small fraction).
typedef struct {
    intptr_t stride, samples, rank;
} sample_plan;

LK_INLINE sample_plan sample_plan_make(intptr_t count, intptr_t k) {
    sample_plan plan;
    plan.stride = count / 1024 > 32 ? count / 1024 : 32;
    plan.samples = count / plan.stride;
    if (plan.samples > 1024) plan.samples = 1024;
    const double expected = (double)k * (double)plan.samples / (double)count;
    plan.rank = (intptr_t)(expected + 4 * sqrt(expected) + 8);
    if (!(count >= 4096 && plan.rank < plan.samples / 2)) plan.samples = 0;
    return plan;
}

/// The k-th largest of `values[0 ..< count]` (`1 ≤ k < count`, no NaN), using `scratch` (room
/// for `count` doubles). When k is a small fraction of many values, a sample (one value in
/// `max(32, count / 1024)`) gives a threshold a few standard deviations below where the k-th
/// largest should fall, and one pass keeps the values above it (eight tested at once); the
/// selection then runs over those. When fewer than k pass the sample misled, and the selection
/// runs over every value: the result is exact either way.
static double kth_largest_body(const double *values, intptr_t count, intptr_t k, double *scratch) {
    double sample[1024];
    const sample_plan plan = sample_plan_make(count, k);
    intptr_t kept = 0;
    if (plan.samples > 0) {
        for (intptr_t i = 0; i < plan.samples; i++) sample[i] = values[i * plan.stride];
        const double threshold = select_descending(sample, plan.samples, plan.rank);
        intptr_t i = 0;
#if LK_AVX2
        // Branch-free: each group of four is stored with the values above the threshold moved to
        // its front, and `kept` advances by their number (a group holds one about as often as
        // not when k is a few per cent, so a branch on it would mispredict). The store stays
        // inside `scratch`: `kept ≤ i`.
        static const int32_t fronts[16][8] = {
            {0, 1, 2, 3, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7}, {2, 3, 0, 1, 4, 5, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7},
            {4, 5, 0, 1, 2, 3, 6, 7}, {0, 1, 4, 5, 2, 3, 6, 7}, {2, 3, 4, 5, 0, 1, 6, 7}, {0, 1, 2, 3, 4, 5, 6, 7},
            {6, 7, 0, 1, 2, 3, 4, 5}, {0, 1, 6, 7, 2, 3, 4, 5}, {2, 3, 6, 7, 0, 1, 4, 5}, {0, 1, 2, 3, 6, 7, 4, 5},
            {4, 5, 6, 7, 0, 1, 2, 3}, {0, 1, 4, 5, 6, 7, 2, 3}, {2, 3, 4, 5, 6, 7, 0, 1}, {0, 1, 2, 3, 4, 5, 6, 7},
        };
        const __m256d above = _mm256_set1_pd(threshold);
        for (; i + 4 <= count; i += 4) {
            const __m256d four = _mm256_loadu_pd(values + i);
            const int mask = _mm256_movemask_pd(_mm256_cmp_pd(four, above, _CMP_GT_OQ));
            const __m256i order = _mm256_loadu_si256((const __m256i *)fronts[mask]);
            _mm256_storeu_ps((float *)(scratch + kept), _mm256_permutevar8x32_ps(_mm256_castpd_ps(four), order));
            kept += __builtin_popcount((unsigned)mask);
        }
#endif
        for (; i + 8 <= count; i += 8) {
            const f64x8 chunk = load_f64x8(values + i);
            if (__builtin_reduce_or(chunk > threshold) == 0) continue;
            for (int lane = 0; lane < 8; lane++) {
                scratch[kept] = chunk[lane];
                kept += chunk[lane] > threshold;
            }
        }
        for (; i < count; i++) {
            scratch[kept] = values[i];
            kept += values[i] > threshold;
        }
    }
    if (kept < k) {
        memcpy(scratch, values, (size_t)count * sizeof(double));
        kept = count;
    }
    return select_descending(scratch, kept, k - 1);
}

/// Prefetches the cache lines of the `bytes` bytes at `row`.
LK_INLINE void prefetch_row(const uint8_t *row, intptr_t bytes) {
    const uintptr_t first = (uintptr_t)row & ~(uintptr_t)63;
    for (uintptr_t line = first; line < (uintptr_t)row + (uintptr_t)bytes; line += 64) __builtin_prefetch((const void *)line);
}

/// Exact losses `addend + log(sum)` for scattered workspace entries, eight logarithms at a time.
typedef struct {
    double sums[8];
    double addends[8];
    intptr_t entries[8];
    int count;
} pending_losses;

/// Stores the waiting losses at their entries of `losses` and of `class_losses` (which may be
/// the same array).
static void pending_losses_flush(pending_losses *pending, double *losses, double *class_losses) {
    for (int lane = pending->count; lane < 8; lane++) pending->sums[lane] = 1;
    f64x8 values = load_f64x8(pending->addends) + log_f64(load_f64x8(pending->sums));
    double lanes[8];
    store_f64x8(lanes, values);
    for (int lane = 0; lane < pending->count; lane++) {
        losses[pending->entries[lane]] = lanes[lane];
        class_losses[pending->entries[lane]] = lanes[lane];
    }
    pending->count = 0;
}

/// Adds the loss `terms` give to `pending`, for entry `entry`; every eight are flushed to
/// `losses` and `class_losses`.
LK_INLINE void pending_losses_add(
    pending_losses *pending, loss_terms terms, intptr_t entry, double *losses, double *class_losses) {
    pending->sums[pending->count] = terms.sum;
    pending->addends[pending->count] = terms.addend;
    pending->entries[pending->count] = entry;
    pending->count += 1;
    if (pending->count == 8) pending_losses_flush(pending, losses, class_losses);
}

static void refine_body(
    lk_format format, const uint8_t *scores, intptr_t row_stride, intptr_t elements, intptr_t classes,
    const lk_workspace *workspace, intptr_t start, intptr_t end, double gate) {
    lane_masks masks;
    if (!lane_masks_make(&masks, classes, format)) abort();
    const intptr_t w = element_bytes(format);
    const intptr_t span = masks.chunks * 8;
    const intptr_t row_bytes = span * w;
    uint8_t *tail = aligned_bytes((size_t)row_bytes);
    if (!tail) abort();
    const intptr_t *negative_boxes = workspace->negative_boxes;
    const double *bounds = workspace->bounds;
    // The candidates first, into the selection's scratch (free until the final mining): an
    // estimated negative whose bound reaches the gate. Eight entries are tested at once; almost
    // no group has one.
    intptr_t *candidates = workspace->indices;
    intptr_t count = 0;
    intptr_t entry = start;
    for (; entry + 8 <= end; entry += 8) {
        const i64x8 passes = (load_f64x8(bounds + entry) >= gate) & (load_i64x8(negative_boxes + entry) >= 0);
        if (__builtin_reduce_or(passes) == 0) continue;
        for (int lane = 0; lane < 8; lane++) {
            candidates[count] = entry + lane;
            count += passes[lane] & 1;
        }
    }
    for (; entry < end; entry++) {
        candidates[count] = entry;
        count += (bounds[entry] >= gate) & (negative_boxes[entry] >= 0);
    }
    pending_losses pending;
    pending.count = 0;
    const intptr_t total_bytes = elements * w;
    // The rows were read long ago and have left the caches: the rows of the next 16 candidates
    // are prefetched while the current 16 are computed, so that their misses overlap.
    for (intptr_t ahead = 0; ahead < count && ahead < 16; ahead++) {
        prefetch_row(scores + negative_boxes[candidates[ahead]] * row_stride * w, classes * w);
    }
    for (intptr_t group = 0; group < count; group += 16) {
        const intptr_t group_end = group + 16 < count ? group + 16 : count;
        const intptr_t next_end = group_end + 16 < count ? group_end + 16 : count;
        for (intptr_t ahead = group_end; ahead < next_end; ahead++) {
            prefetch_row(scores + negative_boxes[candidates[ahead]] * row_stride * w, classes * w);
        }
        for (intptr_t candidate = group; candidate < group_end; candidate++) {
            const intptr_t refined = candidates[candidate];
            const uint8_t *row = scores + negative_boxes[refined] * row_stride * w;
            if (negative_boxes[refined] * row_stride * w + row_bytes > total_bytes) {
                memset(tail, 0, (size_t)row_bytes);
                memcpy(tail, row, (size_t)(classes * w));
                row = tail;
            }
            pending_losses_add(
                &pending, box_loss_terms(format, row, 0, 0, &masks), refined, workspace->negative_losses,
                workspace->class_losses);
        }
    }
    if (pending.count > 0) pending_losses_flush(&pending, workspace->negative_losses, workspace->class_losses);
    free(tail);
    lane_masks_free(&masks);
}

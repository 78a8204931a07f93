// The gate, refinement and hand-off to the miner after the compact pass left its estimates per
// box (LogitNegatives.h): `workspace->estimates[box]` is `ĝ` of each estimated negative, 0 for
// every other box, and the few negatives computed exactly are workspace entries with their boxes.
//
// Per mining scope the k-th largest estimate is selected over the scope's floats (a sample's
// threshold first keeps the few per cent of boxes above it, as `kth_largest_body` does), which
// gives the same gate as the k-th largest bound of the keras hand-off: the bound is the estimate
// times a constant, a monotone map. Exact negatives enter the selection as 0, below every
// estimate: the k-th largest can only be smaller for it, so the gate stays a valid one and at
// worst a few more negatives are refined. Every estimated negative at or above the gate gets its
// exact loss (the same computation as `lk_refine`'s); those losses and the exact entries, merged
// in box order, are all the miner receives: a few thousand entries instead of every negative.

/// Rearranges `values[0 ..< count]` so that `values[target]` is the (target + 1)-th largest,
/// and returns it: quickselect with partitions that do not branch on the values (each element
/// is swapped into place and the boundary advances by a comparison), since among a few hundred
/// estimates a branch on each comparison mispredicts about half the time. Each round splits the
/// range into the values above the pivot (median of three), those equal to it and those below,
/// so that runs of equal estimates end it at once.
static float select_descending_f32(float *values, intptr_t count, intptr_t target) {
    intptr_t low = 0, high = count;
    while (high - low > 1) {
        const float a = values[low], b = values[low + (high - low) / 2], c = values[high - 1];
        const float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        intptr_t above = low;
        for (intptr_t i = low; i < high; i++) {
            const float v = values[i];
            values[i] = values[above];
            values[above] = v;
            above += v > pivot;
        }
        if (target < above) {
            high = above;
            continue;
        }
        intptr_t equal = above;
        for (intptr_t i = above; i < high; i++) {
            const float v = values[i];
            values[i] = values[equal];
            values[equal] = v;
            equal += v == pivot;
        }
        if (target < equal) return pivot;
        low = equal;
    }
    return values[target];
}

#if LK_AVX2
#include <pthread.h>

/// For each 8-bit mask, the lanes whose bit is set, in order, then the others: a permutation
/// that moves the set lanes of eight to the front. Filled on the AVX2 path's first use (not at
/// load: this unit's code may run only on a CPU that has AVX2).
static int32_t estimate_fronts[256][8] __attribute__((aligned(32)));
static pthread_once_t estimate_fronts_once = PTHREAD_ONCE_INIT;

static void estimate_fronts_fill(void) {
    for (int mask = 0; mask < 256; mask++) {
        int front = 0;
        for (int lane = 0; lane < 8; lane++) {
            if (mask & (1 << lane)) estimate_fronts[mask][front++] = lane;
        }
        for (int lane = 0; lane < 8; lane++) {
            if (!(mask & (1 << lane))) estimate_fronts[mask][front++] = lane;
        }
    }
}
#endif

/// The k-th largest of `estimates[0 ..< count]` (`1 ≤ k < count ≤ INT32_MAX`, no NaN), using
/// `values` (room for `count` floats) as scratch. When a sample's threshold rules out most of
/// them, `candidates[0 ..< *candidate_count]` are the offsets of the estimates above
/// `*threshold`, in order; otherwise `*candidate_count` is −1.
static float kth_largest_estimate(
    const float *estimates, intptr_t count, intptr_t k, float *values, int32_t *candidates, intptr_t *candidate_count,
    float *threshold) {
    *candidate_count = -1;
    float sample[1024];
    const sample_plan plan = sample_plan_make(count, k);
    if (plan.samples > 0) {
        for (intptr_t i = 0; i < plan.samples; i++) sample[i] = estimates[i * plan.stride];
        const float above = select_descending_f32(sample, plan.samples, plan.rank);
        intptr_t kept = 0, i = 0;
#if LK_AVX2
        // Branch-free: the estimates above the threshold and their offsets are moved to the front
        // of each eight and stored, and `kept` advances by their number (with image mining a
        // group of eight holds one about half the time, so a branch on it would mispredict).
        // The stores stay inside the scratch: `kept ≤ i`.
        if (pthread_once(&estimate_fronts_once, estimate_fronts_fill) != 0) abort();
        const __m256 bound = _mm256_set1_ps(above);
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (; i + 8 <= count; i += 8) {
            const __m256 eight = _mm256_loadu_ps(estimates + i);
            const int mask = _mm256_movemask_ps(_mm256_cmp_ps(eight, bound, _CMP_GT_OQ));
            const __m256i order = _mm256_load_si256((const __m256i *)estimate_fronts[mask]);
            _mm256_storeu_ps(values + kept, _mm256_permutevar8x32_ps(eight, order));
            _mm256_storeu_si256(
                (__m256i *)(candidates + kept),
                _mm256_add_epi32(_mm256_permutevar8x32_epi32(lanes, order), _mm256_set1_epi32((int32_t)i)));
            kept += __builtin_popcount((unsigned)mask);
        }
#endif
        // Eight at a time; most groups hold none. A lane's offset and value are stored whatever
        // it holds, and the count advances by whether it is above (`kept ≤ i + lane`).
        for (; i + 8 <= count; i += 8) {
            const f32x8 eight = load_f32x8(estimates + i);
            const i32x8 passes = eight > above;
            if (__builtin_reduce_or(passes) == 0) continue;
            for (int lane = 0; lane < 8; lane++) {
                candidates[kept] = (int32_t)(i + lane);
                values[kept] = eight[lane];
                kept += passes[lane] & 1;
            }
        }
        for (; i < count; i++) {
            candidates[kept] = (int32_t)i;
            values[kept] = estimates[i];
            kept += estimates[i] > above;
        }
        if (kept >= k) {
            *candidate_count = kept;
            *threshold = above;
            return select_descending_f32(values, kept, k - 1);
        }
    }
    // The sample misled (or does not pay): the selection runs over every estimate.
    memcpy(values, estimates, (size_t)count * sizeof(float));
    return select_descending_f32(values, count, k - 1);
}

/// Whether the estimate `estimate` (at most 0 for a box without one) reaches the gate on lower
/// bounds `gate`: the same test, on the same doubles, as `lk_refine`'s on the keras hand-off's
/// bounds.
LK_INLINE int estimate_reaches(float estimate, double gate) {
    return estimate > 0 && (double)estimate * LK_INVERSE_UPPER_FACTOR >= gate;
}

/// Writes entry `entry` of image `image`, closing the images before it at `entry`.
LK_INLINE void entry_ends_reach(intptr_t *entry_ends, intptr_t *image, intptr_t box_image, intptr_t entry) {
    while (*image < box_image) entry_ends[(*image)++] = entry;
}

static intptr_t refine_estimates_body(
    const lk_batch *batch, const lk_workspace *workspace, intptr_t first_image, intptr_t images, intptr_t k,
    intptr_t exact_entries, intptr_t *exact_cursor, intptr_t output, intptr_t *entry_ends) {
    const lk_format format = batch->format;
    const intptr_t classes = batch->classes;
    const intptr_t w = element_bytes(format);
    const uint8_t *scores = batch->scores;
    const intptr_t first_box = first_image * batch->boxes;
    const intptr_t count = images * batch->boxes;
    const float *estimates = workspace->estimates + first_box;
    // Offsets in the scope, as 32-bit integers in the room of `indices` (a scope of more than
    // INT32_MAX boxes cannot arrive: the wire's sizes are far smaller).
    if (count > INT32_MAX) abort();
    int32_t *refined = (int32_t *)workspace->indices;

    // The gate, and the scope's boxes to refine, in order, into `refined` (offsets in the scope).
    intptr_t candidates = -1;
    float threshold = 0;
    double gate = __builtin_inf();
    if (k >= count) {
        gate = -__builtin_inf();
    } else if (k > 0) {
        const float kth = kth_largest_estimate(estimates, count, k, workspace->selection, refined, &candidates, &threshold);
        gate = lk_refinement_gate((double)kth * LK_INVERSE_UPPER_FACTOR);
    }
    intptr_t total = 0;
    if (candidates >= 0 && (double)threshold * LK_INVERSE_UPPER_FACTOR < gate) {
        // Every estimate that reaches the gate is above the sample's threshold: among the
        // candidates (compacted in place: `total` never passes the candidate read).
        for (intptr_t c = 0; c < candidates; c++) {
            const int32_t offset = refined[c];
            refined[total] = offset;
            total += estimate_reaches(estimates[offset], gate);
        }
    } else if (gate < __builtin_inf()) {
        intptr_t i = 0;
        for (; i + 8 <= count; i += 8) {
            const f32x8 eight = load_f32x8(estimates + i);
            if (__builtin_reduce_or(eight > 0) == 0) continue;
            for (int lane = 0; lane < 8; lane++) {
                refined[total] = (int32_t)(i + lane);
                total += estimate_reaches(eight[lane], gate);
            }
        }
        for (; i < count; i++) {
            refined[total] = (int32_t)i;
            total += estimate_reaches(estimates[i], gate);
        }
    }

    // The exact losses, merged in box order with the exact entries, into `bounds`.
    lane_masks masks;
    if (!lane_masks_make(&masks, classes, format)) abort();
    const intptr_t row_bytes = masks.chunks * 8 * w;
    const intptr_t total_bytes = batch->batch * batch->boxes * classes * w;
    uint8_t *tail = aligned_bytes((size_t)row_bytes);
    if (!tail) abort();
    double *losses = workspace->bounds;
    const double *exact_losses = workspace->negative_losses;
    const intptr_t *exact_boxes = workspace->negative_boxes;
    intptr_t exact = *exact_cursor;
    intptr_t image = first_image;
    intptr_t entry = output;
    pending_losses pending;
    pending.count = 0;
    // The rows were read long ago and have left the caches: the rows of the next 16 are
    // prefetched while the current 16 are computed, so that their misses overlap.
    for (intptr_t ahead = 0; ahead < total && ahead < 16; ahead++) {
        prefetch_row(scores + (first_box + refined[ahead]) * classes * w, classes * w);
    }
    for (intptr_t group = 0; group < total; group += 16) {
        const intptr_t group_end = group + 16 < total ? group + 16 : total;
        const intptr_t next_end = group_end + 16 < total ? group_end + 16 : total;
        for (intptr_t ahead = group_end; ahead < next_end; ahead++) {
            prefetch_row(scores + (first_box + refined[ahead]) * classes * w, classes * w);
        }
        for (intptr_t r = group; r < group_end; r++) {
            const intptr_t box = first_box + refined[r];
            for (; exact < exact_entries && exact_boxes[exact] < box; exact++, entry++) {
                entry_ends_reach(entry_ends, &image, exact_boxes[exact] / batch->boxes, entry);
                losses[entry] = exact_losses[exact];
            }
            entry_ends_reach(entry_ends, &image, box / batch->boxes, entry);
            const uint8_t *row = scores + box * classes * w;
            if (box * classes * w + row_bytes > total_bytes) {
                memset(tail, 0, (size_t)row_bytes);
                memcpy(tail, row, (size_t)(classes * w));
                row = tail;
            }
            pending_losses_add(&pending, box_loss_terms(format, row, 0, 0, &masks), entry, losses, losses);
            entry++;
        }
    }
    if (pending.count > 0) pending_losses_flush(&pending, losses, losses);
    const intptr_t end_box = first_box + count;
    for (; exact < exact_entries && exact_boxes[exact] < end_box; exact++, entry++) {
        entry_ends_reach(entry_ends, &image, exact_boxes[exact] / batch->boxes, entry);
        losses[entry] = exact_losses[exact];
    }
    entry_ends_reach(entry_ends, &image, first_image + images, entry);
    *exact_cursor = exact;
    free(tail);
    lane_masks_free(&masks);
    return entry;
}

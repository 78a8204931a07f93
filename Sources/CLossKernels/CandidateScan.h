// The mining's candidate scan: which of many losses exceed a sampled threshold.
//
// HardNegativeMiner keeps, before its radix rounds, only the losses above a threshold taken from
// a sample; in an SSD batch that is a few percent of them, in no pattern a branch predicts. Four
// losses at a time, the AVX2 copy compares them, turns the comparison into a 4-bit mask, and
// stores the indices of the set lanes in order with one shuffle from a 16-entry table: no branch,
// and the count advances by the mask's population count. The baseline stores every index and
// advances the count by each comparison, as the Swift loop did.

#if LK_AVX2
/// For each 4-bit mask, the 32-bit lanes that move the 64-bit lanes whose bit is set to the
/// front, in order (the rest repeat lane 0; they are overwritten or past the count).
static const uint32_t candidate_shuffles[16][8] __attribute__((aligned(32))) = {
    {0, 1, 0, 1, 0, 1, 0, 1}, {0, 1, 0, 1, 0, 1, 0, 1}, {2, 3, 0, 1, 0, 1, 0, 1}, {0, 1, 2, 3, 0, 1, 0, 1},
    {4, 5, 0, 1, 0, 1, 0, 1}, {0, 1, 4, 5, 0, 1, 0, 1}, {2, 3, 4, 5, 0, 1, 0, 1}, {0, 1, 2, 3, 4, 5, 0, 1},
    {6, 7, 0, 1, 0, 1, 0, 1}, {0, 1, 6, 7, 0, 1, 0, 1}, {2, 3, 6, 7, 0, 1, 0, 1}, {0, 1, 2, 3, 6, 7, 0, 1},
    {4, 5, 6, 7, 0, 1, 0, 1}, {0, 1, 4, 5, 6, 7, 0, 1}, {2, 3, 4, 5, 6, 7, 0, 1}, {0, 1, 2, 3, 4, 5, 6, 7},
};
#endif

/// Appends to `indices[count...]` the index of every entry of `values[start ..< end]` greater
/// than `threshold`, in order, and returns the new count. `indices` has room for `end − start`
/// entries past `count`.
static intptr_t candidates_above_body(
    const double *values, intptr_t start, intptr_t end, double threshold, intptr_t *indices, intptr_t count) {
    intptr_t entry = start;
#if LK_AVX2
    const __m256d bound = _mm256_set1_pd(threshold);
    __m256i lanes = _mm256_add_epi64(_mm256_set1_epi64x(entry), _mm256_set_epi64x(3, 2, 1, 0));
    const __m256i step = _mm256_set1_epi64x(4);
    for (; entry + 4 <= end; entry += 4) {
        const int mask = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(values + entry), bound, _CMP_GT_OQ));
        const __m256i order = _mm256_load_si256((const __m256i *)candidate_shuffles[mask]);
        _mm256_storeu_si256((__m256i *)(indices + count), _mm256_permutevar8x32_epi32(lanes, order));
        count += __builtin_popcount((unsigned)mask);
        lanes = _mm256_add_epi64(lanes, step);
    }
#endif
    for (; entry < end; entry++) {
        indices[count] = entry;
        count += values[entry] > threshold;
    }
    return count;
}

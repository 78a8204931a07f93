// The entry points each instruction-set unit exports; Dispatch.c chooses between them.

#define LK_DECLARE_ENTRY_POINTS(suffix)                                                                  \
    void lk_keras_pass_##suffix(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums);   \
    void lk_compact_pass_##suffix(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums); \
    void lk_refine_##suffix(                                                                             \
        lk_format format, const void *scores, intptr_t row_stride, intptr_t elements, intptr_t classes,  \
        const lk_workspace *workspace, intptr_t start, intptr_t end, double gate);                       \
    intptr_t lk_refine_estimates_##suffix(                                                               \
        const lk_batch *batch, const lk_workspace *workspace, intptr_t first_image, intptr_t images, intptr_t k, \
        intptr_t exact_entries, intptr_t *exact_cursor, intptr_t output, intptr_t *entry_ends);           \
    double lk_stream_sum_##suffix(const void *bytes, size_t count);                                      \
    double lk_kth_largest_##suffix(const double *values, intptr_t count, intptr_t k, void *scratch);    \
    double lk_select_descending_##suffix(double *values, intptr_t count, intptr_t target);              \
    intptr_t lk_candidates_above_##suffix(                                                               \
        const double *values, intptr_t start, intptr_t end, double threshold, intptr_t *indices, intptr_t count); \
    void lk_count_labels_##suffix(const void *labels, intptr_t count, intptr_t *positives, intptr_t *negatives); \
    void lk_vector_log_##suffix(const double *x, double *result, size_t count);                          \
    void lk_vector_exp_##suffix(const float *x, float *result, size_t count);                            \
    void lk_vector_exp64_##suffix(const double *x, double *result, size_t count);                        \
    void lk_bounding_exp_##suffix(const float *x, float *result, size_t count);                          \
    void lk_bounding_exp_from_##suffix(const float *x, float background, float *result, size_t count);   \
    void lk_widen_##suffix(lk_format format, const void *elements, float *result, size_t count);

LK_DECLARE_ENTRY_POINTS(baseline)
LK_DECLARE_ENTRY_POINTS(avx2)

// Which instruction set runs: detected once, then each call goes to that unit's entry point.

#include "CLossKernels.h"
#include "EntryPoints.h"

#if defined(__x86_64__)
#include <cpuid.h>

/// AVX2, FMA and F16C reported by CPUID, and the YMM state enabled by the OS (XCR0 bits 1-2).
static int detect_avx2(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 6) != 6) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    return (ebx >> 5) & 1;
}

int lk_avx2_supported(void) {
    // CPUID traps to the hypervisor on a virtual machine: asked once. Racing threads compute
    // the same answer.
    static int cached = -1;
    int supported = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (supported < 0) {
        supported = detect_avx2();
        __atomic_store_n(&cached, supported, __ATOMIC_RELAXED);
    }
    return supported;
}

#define LK_USE_AVX2(path) ((path) == LK_PATH_AVX2 && lk_avx2_supported())
#else
int lk_avx2_supported(void) { return 0; }
#define LK_USE_AVX2(path) 0
// The AVX2 unit is empty off x86-64; these are never called.
#define lk_keras_pass_avx2 lk_keras_pass_baseline
#define lk_compact_pass_avx2 lk_compact_pass_baseline
#define lk_refine_avx2 lk_refine_baseline
#define lk_refine_estimates_avx2 lk_refine_estimates_baseline
#define lk_stream_sum_avx2 lk_stream_sum_baseline
#define lk_kth_largest_avx2 lk_kth_largest_baseline
#define lk_select_descending_avx2 lk_select_descending_baseline
#define lk_count_labels_avx2 lk_count_labels_baseline
#define lk_candidates_above_avx2 lk_candidates_above_baseline
#define lk_vector_log_avx2 lk_vector_log_baseline
#define lk_vector_exp_avx2 lk_vector_exp_baseline
#define lk_vector_exp64_avx2 lk_vector_exp64_baseline
#define lk_bounding_exp_avx2 lk_bounding_exp_baseline
#define lk_bounding_exp_from_avx2 lk_bounding_exp_from_baseline
#define lk_widen_avx2 lk_widen_baseline
#endif

void lk_keras_pass(lk_path path, const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    (LK_USE_AVX2(path) ? lk_keras_pass_avx2 : lk_keras_pass_baseline)(batch, workspace, sums);
}

void lk_compact_pass(lk_path path, const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    (LK_USE_AVX2(path) ? lk_compact_pass_avx2 : lk_compact_pass_baseline)(batch, workspace, sums);
}

void lk_refine(
    lk_path path, lk_format format, const void *scores, intptr_t row_stride, intptr_t elements, intptr_t classes,
    const lk_workspace *workspace, intptr_t start, intptr_t end, double gate) {
    (LK_USE_AVX2(path) ? lk_refine_avx2 : lk_refine_baseline)(
        format, scores, row_stride, elements, classes, workspace, start, end, gate);
}

intptr_t lk_refine_estimates(
    lk_path path, const lk_batch *batch, const lk_workspace *workspace, intptr_t first_image, intptr_t images,
    intptr_t k, intptr_t exact_entries, intptr_t *exact_cursor, intptr_t output, intptr_t *entry_ends) {
    return (LK_USE_AVX2(path) ? lk_refine_estimates_avx2 : lk_refine_estimates_baseline)(
        batch, workspace, first_image, images, k, exact_entries, exact_cursor, output, entry_ends);
}

double lk_refinement_gate(double kth) {
    // `kth` itself may be one rounding above a `G` it stands for.
    const double threshold = kth - 1e-12 * (1 + __builtin_fabs(kth));
    if (!(threshold > 0)) return -__builtin_inf();
    return threshold * (LK_LOWER_FACTOR / LK_UPPER_FACTOR) * (1 - 1e-12);
}

intptr_t lk_candidates_above(
    lk_path path, const double *values, intptr_t start, intptr_t end, double threshold, intptr_t *indices,
    intptr_t count) {
    return (LK_USE_AVX2(path) ? lk_candidates_above_avx2 : lk_candidates_above_baseline)(
        values, start, end, threshold, indices, count);
}

void lk_count_labels(lk_path path, const void *labels, intptr_t count, intptr_t *positives, intptr_t *negatives) {
    (LK_USE_AVX2(path) ? lk_count_labels_avx2 : lk_count_labels_baseline)(labels, count, positives, negatives);
}

double lk_kth_largest(lk_path path, const double *values, intptr_t count, intptr_t k, void *scratch) {
    return (LK_USE_AVX2(path) ? lk_kth_largest_avx2 : lk_kth_largest_baseline)(values, count, k, scratch);
}

double lk_select_descending(lk_path path, double *values, intptr_t count, intptr_t target) {
    return (LK_USE_AVX2(path) ? lk_select_descending_avx2 : lk_select_descending_baseline)(values, count, target);
}

double lk_stream_sum(lk_path path, const void *bytes, size_t count) {
    return (LK_USE_AVX2(path) ? lk_stream_sum_avx2 : lk_stream_sum_baseline)(bytes, count);
}

void lk_vector_log(lk_path path, const double *x, double *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_vector_log_avx2 : lk_vector_log_baseline)(x, result, count);
}

void lk_vector_exp(lk_path path, const float *x, float *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_vector_exp_avx2 : lk_vector_exp_baseline)(x, result, count);
}

void lk_vector_exp64(lk_path path, const double *x, double *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_vector_exp64_avx2 : lk_vector_exp64_baseline)(x, result, count);
}

void lk_bounding_exp(lk_path path, const float *x, float *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_bounding_exp_avx2 : lk_bounding_exp_baseline)(x, result, count);
}

void lk_bounding_exp_from(lk_path path, const float *x, float background, float *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_bounding_exp_from_avx2 : lk_bounding_exp_from_baseline)(x, background, result, count);
}

void lk_widen(lk_path path, lk_format format, const void *elements, float *result, size_t count) {
    (LK_USE_AVX2(path) ? lk_widen_avx2 : lk_widen_baseline)(format, elements, result, count);
}

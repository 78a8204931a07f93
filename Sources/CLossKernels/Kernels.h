// The body of BaselineKernels.c and AVX2Kernels.c: every vectorized function of the loss, with
// its exported entry points named by LK_NAME. The including file defines
//   LK_AVX2        1 when compiling for AVX2 + FMA + F16C, else 0;
//   LK_NAME(name)  the exported name of entry point `name` for this instruction set;
//   LK_THIS_PATH   the lk_path this unit implements.

#include <math.h>
#include <stdlib.h>

// The helpers pass 256- and 512-bit vectors by value; they are all inlined or static, so no
// call crosses an ABI boundary and Clang's warning about vector ABIs does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

#include "CLossKernels.h"
#include "EntryPoints.h"
#include "Vectors.h"
#include "Formats.h"
#include "Exponentials.h"
#include "Logarithm.h"
#include "LaneMasks.h"
#include "LogSumExp.h"
#include "LogitNegatives.h"
#include "ScalarBox.h"
#include "Diagnostics.h"
#include "KerasNegativeRun.h"
#include "KerasPass.h"
#include "CompactPass.h"
#include "Refinement.h"
#include "BoxEstimates.h"
#include "CandidateScan.h"
#include "Floor.h"

// One specialized copy of each pass per format and score kind (`exact` stays a run-time flag).
// The keras pass has further copies for boxes of up to 32 classes, whose chunk loops the compiler
// then unrolls: by chunks of eight logits (1 to 4; the 32-byte chunks of their class entries
// follow: as many for float32, half as many for 16-bit formats), or for float64, by chunks of 32
// bytes (1 to 4: up to 16 classes).
#define LK_KERAS_CASE(chunks, elements) \
    keras_pass_body(format, logits, batch->exact, batch, workspace, sums, masks, chunks, elements); break;
#define LK_KERAS_VARIANT(name, format_, logits_)                                                     \
    static void name(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums, const lane_masks *masks) { \
        const lk_format format = format_;                                                           \
        const int logits = logits_;                                                                 \
        if (format == LK_FLOAT64) {                                                                 \
            switch (masks->class_byte_chunks) {                                                     \
            case 1: LK_KERAS_CASE(1, 0)                                                             \
            case 2: LK_KERAS_CASE(2, 0)                                                             \
            case 3: LK_KERAS_CASE(3, 0)                                                             \
            case 4: LK_KERAS_CASE(4, 0)                                                             \
            default: LK_KERAS_CASE(0, 0)                                                            \
            }                                                                                       \
        } else {                                                                                    \
            const int wide = format == LK_FLOAT32;                                                  \
            switch (masks->chunks) {                                                                \
            case 1: LK_KERAS_CASE(1, 1)                                                             \
            case 2: LK_KERAS_CASE(wide ? 2 : 1, 2)                                                  \
            case 3: LK_KERAS_CASE(wide ? 3 : 2, 3)                                                  \
            case 4: LK_KERAS_CASE(wide ? 4 : 2, 4)                                                  \
            default: LK_KERAS_CASE(0, 0)                                                            \
            }                                                                                       \
        }                                                                                           \
    }
// The compact pass with logits, by chunks of eight scores (1 to 4: up to 32 classes).
#define LK_COMPACT_CASE(elements) \
    compact_pass_body(format, logits, batch->exact, batch, workspace, sums, masks, elements); break;
#define LK_COMPACT_VARIANT(name, format_, logits_)                                                   \
    static void name(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums, const lane_masks *masks) { \
        const lk_format format = format_;                                                           \
        const int logits = logits_;                                                                 \
        switch (logits ? masks->chunks : 0) {                                                       \
        case 1: LK_COMPACT_CASE(1)                                                                  \
        case 2: LK_COMPACT_CASE(2)                                                                  \
        case 3: LK_COMPACT_CASE(3)                                                                  \
        case 4: LK_COMPACT_CASE(4)                                                                  \
        default: LK_COMPACT_CASE(0)                                                                 \
        }                                                                                           \
    }
LK_KERAS_VARIANT(keras_f32_probabilities, LK_FLOAT32, 0)
LK_KERAS_VARIANT(keras_f32_logits, LK_FLOAT32, 1)
LK_KERAS_VARIANT(keras_f16_probabilities, LK_FLOAT16, 0)
LK_KERAS_VARIANT(keras_f16_logits, LK_FLOAT16, 1)
LK_KERAS_VARIANT(keras_bf16_probabilities, LK_BFLOAT16, 0)
LK_KERAS_VARIANT(keras_bf16_logits, LK_BFLOAT16, 1)
LK_KERAS_VARIANT(keras_f64_probabilities, LK_FLOAT64, 0)
LK_KERAS_VARIANT(keras_f64_logits, LK_FLOAT64, 1)
LK_COMPACT_VARIANT(compact_f32_probabilities, LK_FLOAT32, 0)
LK_COMPACT_VARIANT(compact_f32_logits, LK_FLOAT32, 1)
LK_COMPACT_VARIANT(compact_f16_probabilities, LK_FLOAT16, 0)
LK_COMPACT_VARIANT(compact_f16_logits, LK_FLOAT16, 1)
LK_COMPACT_VARIANT(compact_bf16_probabilities, LK_BFLOAT16, 0)
LK_COMPACT_VARIANT(compact_bf16_logits, LK_BFLOAT16, 1)
LK_COMPACT_VARIANT(compact_f64_probabilities, LK_FLOAT64, 0)
LK_COMPACT_VARIANT(compact_f64_logits, LK_FLOAT64, 1)

typedef void (*pass_variant)(const lk_batch *, const lk_workspace *, lk_sums *, const lane_masks *);

static void run_pass(const pass_variant variants[4][2], const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    lane_masks masks;
    if (!lane_masks_make(&masks, batch->classes, batch->format)) abort();
    sums->estimated = 0;
    sums->class_losses_separate = 0;
    sums->saw_nonfinite = 0;
    sums->bad_label_box = -1;
    sums->bad_label = 0;
    sums->nonfinite_image = -1;
    sums->estimates_per_box = 0;
    sums->exact_entries = 0;
    variants[batch->format][batch->logits ? 1 : 0](batch, workspace, sums, &masks);
    sums->path = LK_THIS_PATH;
    lane_masks_free(&masks);
}

void LK_NAME(lk_keras_pass)(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    static const pass_variant variants[4][2] = {
        [LK_FLOAT32] = {keras_f32_probabilities, keras_f32_logits},
        [LK_FLOAT16] = {keras_f16_probabilities, keras_f16_logits},
        [LK_BFLOAT16] = {keras_bf16_probabilities, keras_bf16_logits},
        [LK_FLOAT64] = {keras_f64_probabilities, keras_f64_logits},
    };
    run_pass(variants, batch, workspace, sums);
}

void LK_NAME(lk_compact_pass)(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    static const pass_variant variants[4][2] = {
        [LK_FLOAT32] = {compact_f32_probabilities, compact_f32_logits},
        [LK_FLOAT16] = {compact_f16_probabilities, compact_f16_logits},
        [LK_BFLOAT16] = {compact_bf16_probabilities, compact_bf16_logits},
        [LK_FLOAT64] = {compact_f64_probabilities, compact_f64_logits},
    };
    run_pass(variants, batch, workspace, sums);
}

void LK_NAME(lk_refine)(
    lk_format format, const void *scores, intptr_t row_stride, intptr_t elements, intptr_t classes,
    const lk_workspace *workspace, intptr_t start, intptr_t end, double gate) {
    refine_body(format, scores, row_stride, elements, classes, workspace, start, end, gate);
}

intptr_t LK_NAME(lk_refine_estimates)(
    const lk_batch *batch, const lk_workspace *workspace, intptr_t first_image, intptr_t images, intptr_t k,
    intptr_t exact_entries, intptr_t *exact_cursor, intptr_t output, intptr_t *entry_ends) {
    return refine_estimates_body(batch, workspace, first_image, images, k, exact_entries, exact_cursor, output, entry_ends);
}

double LK_NAME(lk_stream_sum)(const void *bytes, size_t count) { return stream_sum_body(bytes, count); }

double LK_NAME(lk_kth_largest)(const double *values, intptr_t count, intptr_t k, void *scratch) {
    if (k <= 0) return __builtin_inf();
    if (k >= count) return -__builtin_inf();
    return kth_largest_body(values, count, k, scratch);
}

double LK_NAME(lk_select_descending)(double *values, intptr_t count, intptr_t target) {
    return select_descending(values, count, target);
}

intptr_t LK_NAME(lk_candidates_above)(
    const double *values, intptr_t start, intptr_t end, double threshold, intptr_t *indices, intptr_t count) {
    return candidates_above_body(values, start, end, threshold, indices, count);
}

void LK_NAME(lk_count_labels)(const void *labels, intptr_t count, intptr_t *positives, intptr_t *negatives) {
    const uint8_t *bytes = labels;
    i32x8 above = 0, zero = 0;
    intptr_t i = 0;
    for (; i + 8 <= count; i += 8) {
        i32x8 chunk;
        memcpy(&chunk, bytes + i * 4, 32);
        above -= chunk > 0;
        zero -= chunk == 0;
    }
    intptr_t p = 0, n = 0;
    for (int lane = 0; lane < 8; lane++) {
        p += above[lane];
        n += zero[lane];
    }
    for (; i < count; i++) {
        int32_t label;
        memcpy(&label, bytes + i * 4, 4);
        p += label > 0;
        n += label == 0;
    }
    *positives = p;
    *negatives = n;
}

void LK_NAME(lk_vector_log)(const double *x, double *result, size_t count) {
    for (size_t i = 0; i < count; i += 8) {
        double lanes[8];
        for (size_t lane = 0; lane < 8; lane++) lanes[lane] = i + lane < count ? x[i + lane] : 1;
        store_f64x8(lanes, log_f64(load_f64x8(lanes)));
        for (size_t lane = 0; lane < 8 && i + lane < count; lane++) result[i + lane] = lanes[lane];
    }
}

void LK_NAME(lk_vector_exp64)(const double *x, double *result, size_t count) {
    for (size_t i = 0; i < count; i += 8) {
        double lanes[8];
        for (size_t lane = 0; lane < 8; lane++) lanes[lane] = i + lane < count ? x[i + lane] : 0;
        store_f64x8(lanes, exp_f64(load_f64x8(lanes)));
        for (size_t lane = 0; lane < 8 && i + lane < count; lane++) result[i + lane] = lanes[lane];
    }
}

/// Applies an eight-lane float32 function to `count` values, eight at a time.
#define LK_MAP_F32(function, x, result, count)                                              \
    for (size_t i = 0; i < (count); i += 8) {                                               \
        float lanes[8];                                                                     \
        for (size_t lane = 0; lane < 8; lane++) lanes[lane] = i + lane < (count) ? (x)[i + lane] : 0; \
        f32x8 values = function(load_f32x8(lanes));                                         \
        memcpy(lanes, &values, sizeof lanes);                                               \
        for (size_t lane = 0; lane < 8 && i + lane < (count); lane++) (result)[i + lane] = lanes[lane]; \
    }

void LK_NAME(lk_vector_exp)(const float *x, float *result, size_t count) { LK_MAP_F32(exp_f32, x, result, count) }

void LK_NAME(lk_bounding_exp)(const float *x, float *result, size_t count) { LK_MAP_F32(bounding_exp, x, result, count) }

void LK_NAME(lk_bounding_exp_from)(const float *x, float background, float *result, size_t count) {
    const float offset = bounding_exp_offset(background);
#define LK_FROM(values) bounding_exp_from(values, offset)
    LK_MAP_F32(LK_FROM, x, result, count)
#undef LK_FROM
}

void LK_NAME(lk_widen)(lk_format format, const void *elements, float *result, size_t count) {
    const intptr_t w = element_bytes(format);
    for (size_t i = 0; i < count; i += 8) {
        uint8_t lanes[64] = {0};
        size_t n = count - i < 8 ? count - i : 8;
        memcpy(lanes, (const uint8_t *)elements + i * w, n * w);
        f32x8 values = load_floats(format, lanes, 0);
        float out[8];
        memcpy(out, &values, sizeof out);
        for (size_t lane = 0; lane < n; lane++) result[i + lane] = out[lane];
    }
}

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
#include "KerasPass.h"
#include "CompactPass.h"
#include "Refinement.h"
#include "Floor.h"

// One specialized copy of each pass per format and score kind; `exact` stays a run-time flag.
#define LK_PASS_VARIANT(body, name, format, logits)                                                 \
    static void name(const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums, const lane_masks *masks) { \
        body(format, logits, batch->exact, batch, workspace, sums, masks);                          \
    }
LK_PASS_VARIANT(keras_pass_body, keras_f32_probabilities, LK_FLOAT32, 0)
LK_PASS_VARIANT(keras_pass_body, keras_f32_logits, LK_FLOAT32, 1)
LK_PASS_VARIANT(keras_pass_body, keras_f16_probabilities, LK_FLOAT16, 0)
LK_PASS_VARIANT(keras_pass_body, keras_f16_logits, LK_FLOAT16, 1)
LK_PASS_VARIANT(keras_pass_body, keras_bf16_probabilities, LK_BFLOAT16, 0)
LK_PASS_VARIANT(keras_pass_body, keras_bf16_logits, LK_BFLOAT16, 1)
LK_PASS_VARIANT(keras_pass_body, keras_f64_probabilities, LK_FLOAT64, 0)
LK_PASS_VARIANT(keras_pass_body, keras_f64_logits, LK_FLOAT64, 1)
LK_PASS_VARIANT(compact_pass_body, compact_f32_probabilities, LK_FLOAT32, 0)
LK_PASS_VARIANT(compact_pass_body, compact_f32_logits, LK_FLOAT32, 1)
LK_PASS_VARIANT(compact_pass_body, compact_f16_probabilities, LK_FLOAT16, 0)
LK_PASS_VARIANT(compact_pass_body, compact_f16_logits, LK_FLOAT16, 1)
LK_PASS_VARIANT(compact_pass_body, compact_bf16_probabilities, LK_BFLOAT16, 0)
LK_PASS_VARIANT(compact_pass_body, compact_bf16_logits, LK_BFLOAT16, 1)
LK_PASS_VARIANT(compact_pass_body, compact_f64_probabilities, LK_FLOAT64, 0)
LK_PASS_VARIANT(compact_pass_body, compact_f64_logits, LK_FLOAT64, 1)

typedef void (*pass_variant)(const lk_batch *, const lk_workspace *, lk_sums *, const lane_masks *);

static void run_pass(const pass_variant variants[4][2], const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums) {
    lane_masks masks;
    if (!lane_masks_make(&masks, batch->classes, batch->format)) abort();
    sums->estimated = 0;
    sums->saw_nonfinite = 0;
    sums->bad_label_box = -1;
    sums->bad_label = 0;
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

double LK_NAME(lk_stream_sum)(const void *bytes, size_t count) { return stream_sum_body(bytes, count); }

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

// The vectorized passes of the SSD loss, compiled twice: once for baseline x86-64 (SSE2) or the
// host's baseline elsewhere, once for AVX2 + FMA + F16C, with the copy chosen at run time.
//
// Swift has no way to compile one function for two instruction sets in one module, so the hot
// loops live here, written once with Clang's vector extensions and built by two translation units
// (BaselineKernels.c, AVX2Kernels.c) that differ only in their target attributes. SSDLoss calls
// these functions and keeps everything else: the API, size checks, mining and the reduction.
//
// Every function reads its inputs in place and never reads outside the buffers it is given.

#ifndef CLOSSKERNELS_H
#define CLOSSKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The machine code a call runs.
typedef enum {
    /// The baseline instruction set: SSE2 on x86-64.
    LK_PATH_BASELINE = 0,
    /// AVX2 with FMA and F16C (x86-64 only).
    LK_PATH_AVX2 = 1,
} lk_path;

/// The element type of the floating-point tensors, as the wire carries it (little-endian).
typedef enum {
    LK_FLOAT32 = 0,
    LK_FLOAT16 = 1,
    LK_BFLOAT16 = 2,
    LK_FLOAT64 = 3,
} lk_format;

/// Whether this CPU and operating system can run `LK_PATH_AVX2` (AVX2, FMA and F16C, with the
/// YMM state enabled by the OS). Always 0 off x86-64.
int lk_avx2_supported(void);

// The logits estimate (see SSDLoss's LogitEstimate): bounds and limits the passes and the
// refinement gate share.

/// `ĝ ≥ LK_LOWER_FACTOR · G`: the estimate's exponential never falls below the exact one; the
/// factor leaves room for float32 rounding of both computations (each under 2·10⁻⁵).
#define LK_LOWER_FACTOR 0.9999
/// `ĝ ≤ LK_UPPER_FACTOR · G`: `max (1 + f) / 2^f = 1.0615` over `f` in [0, 1], plus rounding.
#define LK_UPPER_FACTOR 1.0617
/// `1 / LK_UPPER_FACTOR`, so that the bound needs no division per box.
#define LK_INVERSE_UPPER_FACTOR 0.94188565508147304
/// `Float(2⁻⁵³ · LK_LOWER_FACTOR).nextDown`: estimates at or below it are zero losses.
#define LK_ZERO_LIMIT 0x1.fff2e2p-54f
/// `Float(2⁻⁵³ · LK_UPPER_FACTOR).nextUp`: estimates above it are non-zero losses.
#define LK_NONZERO_LIMIT 0x1.0fcb94p-53f
/// The bounding exponential clamps `d · log₂e` at 115 (`d` ≈ 79.7), so a box with a larger gap
/// `p[k] − p[0]` gets an estimate of at least 2¹¹⁵; estimates at or above LK_LARGE_ESTIMATE go
/// to the exact computation, which is valid for any gap.
#define LK_LARGEST_EXPONENT 115.0f
#define LK_LARGE_ESTIMATE 0x1p114f

/// The workspace's per-box scratch: room for every box of the batch in each array.
typedef struct {
    /// `nl` of the negatives with a non-zero loss, in flat-index order (−∞ for an estimate).
    double *negative_losses;
    /// `cl` of the same negatives, when they differ (see `lk_sums.class_losses_separate`).
    double *class_losses;
    /// For an estimated negative, a lower bound of `expm1(nl)`.
    double *bounds;
    /// For an estimated negative, its flat box index; −1 for an exact one.
    intptr_t *negative_boxes;
    /// Scratch of the same size (refinement's candidates).
    intptr_t *indices;
    /// Compact logits, estimating pass: the estimate `ĝ` of every box, by flat index (0 for a
    /// box that is not an estimated negative). See `lk_sums.estimates_per_box`.
    float *estimates;
    /// Float scratch of the same size (the selection over `estimates`).
    float *selection;
} lk_workspace;

/// One batch for a pass. Keras: `y_true`, `y_pred`. Compact: `labels`, `gt_offsets`, `scores`,
/// `pred_offsets`. Counts are elements, not bytes.
typedef struct {
    const void *y_true;
    const void *y_pred;
    const void *labels;
    const void *gt_offsets;
    const void *scores;
    const void *pred_offsets;
    intptr_t batch;
    intptr_t boxes;
    intptr_t classes;
    lk_format format;
    /// Nonzero when the class entries are logits.
    int logits;
    /// Logits only: nonzero to compute every negative's loss exactly in the pass, rather than
    /// estimating it and leaving the exact loss to `lk_refine` (worth it when mining keeps a
    /// large share of the negatives).
    int exact;
} lk_batch;

/// What a pass found. The four arrays have one element per image and are filled by the pass.
typedef struct {
    /// `n_pos` of each image.
    double *positives;
    /// `sum_n cl * pos` of each image.
    double *class_positive;
    /// `sum_n ll * pos` of each image.
    double *localization;
    /// Image b's negatives are workspace entries `segment_ends[b-1] ..< segment_ends[b]`.
    intptr_t *segment_ends;
    /// How many entries hold an estimate rather than an exact loss.
    intptr_t estimated;
    /// Nonzero when a value the loss reads is NaN or ±Inf (the sums are then meaningless).
    int saw_nonfinite;
    /// Zero when the class losses of the negatives equal their negative losses (every negative
    /// one-hot) and were not stored apart: `class_losses` then holds nothing, and a reader takes
    /// `negative_losses` for both.
    int class_losses_separate;
    /// Compact: the first box whose label is outside −1 … C−1 (the pass stopped there), or −1.
    intptr_t bad_label_box;
    int32_t bad_label;
    /// The code that ran: `LK_PATH_BASELINE` or `LK_PATH_AVX2`.
    lk_path path;
    /// Nonzero when the pass left its estimates per box (the compact layout's estimating pass):
    /// `workspace.estimates[box]` holds `ĝ` of each estimated negative and 0 for every other box,
    /// and the workspace entries hold only the negatives computed exactly (`exact_entries` of
    /// them, each with its box in `negative_boxes`). `segment_ends` then counts every non-zero
    /// negative, estimated or exact; `lk_refine_estimates` turns this into the miner's entries.
    int estimates_per_box;
    /// With `estimates_per_box`: how many workspace entries the pass filled (exact negatives).
    intptr_t exact_entries;
    /// The image at whose end the pass first saw a NaN or ±Inf, or −1. The pass checks at the end
    /// of every image and stops there: every image before it is finite, and nothing after it was
    /// read, so the non-finite values can be located from this image on without a second read of
    /// the batch.
    intptr_t nonfinite_image;
    /// Per-class diagnostics, filled when non-NULL (each of `classes` elements, zeroed by the
    /// caller): for every positive box, its positive weight `pos` is added at its class (the
    /// largest of its targets t[1..C-1], the first on ties; a compact box's label)...
    double *class_positives;
    /// ... and its `cl * pos`, the share of `class_positive` it gave.
    double *class_classification;
} lk_sums;

/// The streaming pass over a keras-layout batch (`y_true`, `y_pred`, each `[B, N, C + 12]`).
void lk_keras_pass(lk_path path, const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums);

/// The streaming pass over a compact-layout batch. Stops at the first label outside −1 … C−1
/// and reports it in `sums->bad_label_box`.
void lk_compact_pass(lk_path path, const lk_batch *batch, const lk_workspace *workspace, lk_sums *sums);

/// Computes the exact loss of every estimated negative among workspace entries `start ..< end`
/// whose bound is at least `gate` (logits), storing it in
/// `negative_losses` and `class_losses` (which may be the same array).
///
/// `scores` holds each box's C logits, box `i` from element `i * row_stride`; it has `elements`
/// elements in all.
void lk_refine(
    lk_path path, lk_format format, const void *scores, intptr_t row_stride, intptr_t elements,
    intptr_t classes, const lk_workspace *workspace, intptr_t start, intptr_t end, double gate);

/// After a pass that left its estimates per box (`lk_sums.estimates_per_box`), for the mining
/// scope of images `first_image ..< first_image + images` that keeps the `k` largest negatives:
/// selects the k-th largest estimate of the scope, sets the gate from it
/// (`lk_refinement_gate`), computes the exact loss of every estimated negative at or above the
/// gate, and writes those losses, merged in box order with the scope's exact entries (workspace
/// entries `*exact_cursor ..< exact_entries`, whose boxes are in `negative_boxes`; the cursor
/// moves past the scope's), to `workspace.bounds` from entry `output` on. Image b's last entry
/// ends at `entry_ends[b]`; returns the scope's end. Every negative that mining can keep is
/// among them, with the loss the exact computation gives it.
///
/// `batch` is the batch of the pass (compact layout, logits). Uses `indices` and `selection`
/// as scratch.
intptr_t lk_refine_estimates(
    lk_path path, const lk_batch *batch, const lk_workspace *workspace, intptr_t first_image, intptr_t images,
    intptr_t k, intptr_t exact_entries, intptr_t *exact_cursor, intptr_t output, intptr_t *entry_ends);

/// The gate on lower bounds of `expm1(nl)` for a mining scope whose k-th largest lower bound is
/// `kth`: the smallest lower bound whose upper bound (times `LK_UPPER_FACTOR / LK_LOWER_FACTOR`)
/// can reach `kth`, rounded generously; −∞ when every estimated negative can (`kth` not
/// positive). See SSDLoss's LogitRefinement.
double lk_refinement_gate(double kth);

/// The k-th largest of `values[0 ..< count]` (no NaN): +∞ when `k ≤ 0`, −∞ when `k ≥ count`.
/// `scratch` has room for `count` doubles.
double lk_kth_largest(lk_path path, const double *values, intptr_t count, intptr_t k, void *scratch);

/// Rearranges `values[0 ..< count]` (no NaN) so that `values[target]` is the (target + 1)-th
/// largest, and returns it: the quickselect `lk_kth_largest` uses, for the miner's sample.
double lk_select_descending(lk_path path, double *values, intptr_t count, intptr_t target);

/// Appends to `indices[count...]` the index of every entry of `values[start ..< end]` greater than
/// `threshold` (no NaN), in order, and returns the new count. `indices` has room for
/// `end − start` entries past `count` (the vectorized copy writes up to three past the result).
intptr_t lk_candidates_above(
    lk_path path, const double *values, intptr_t start, intptr_t end, double threshold, intptr_t *indices,
    intptr_t count);

/// Counts the positive (> 0) and background (0) labels among the `count` int32 labels at `labels`.
void lk_count_labels(lk_path path, const void *labels, intptr_t count, intptr_t *positives, intptr_t *negatives);

/// A vectorized sum of the `count / 4` float32 lanes at `bytes`: the memory floor.
double lk_stream_sum(lk_path path, const void *bytes, size_t count);

/// `-log(max(p, 1e-15))` for every 16-bit pattern of a float16 or bfloat16 probability (65,536
/// entries, built on first use with the baseline logarithm, then shared).
const double *lk_negative_log_table(lk_format format);

// The vector functions the passes use, over arrays, so that tests can check them on each path.

/// `log(x[i])` for positive, finite, normal inputs (fdlibm's algorithm, below 1 ulp).
void lk_vector_log(lk_path path, const double *x, double *result, size_t count);
/// `exp(x[i])` for `x[i] ≤ 0` in float32 (about 1 ulp; clamped at −87).
void lk_vector_exp(lk_path path, const float *x, float *result, size_t count);
/// `exp(x[i])` for `x[i] ≤ 0` in float64 (about 1 ulp; clamped at −708).
void lk_vector_exp64(lk_path path, const double *x, double *result, size_t count);
/// The bounding exponential of the logits estimate: never below `exp(x)` and at most 6.15 %
/// above it for `x · log₂e ≤ 115`; larger inputs give 2¹¹⁵.
void lk_bounding_exp(lk_path path, const float *x, float *result, size_t count);
/// The same bound of `exp(x[i] − background)` as the passes take it for `|background| ≤ 64`
/// (one multiply-add per eight lanes), for tests.
void lk_bounding_exp_from(lk_path path, const float *x, float background, float *result, size_t count);
/// The float32 values of `count` elements of `format` (float16, bfloat16 or float32) at `elements`.
void lk_widen(lk_path path, lk_format format, const void *elements, float *result, size_t count);

#ifdef __cplusplus
}
#endif

#endif

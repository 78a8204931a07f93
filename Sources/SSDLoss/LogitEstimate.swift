import CLossKernels

/// A cheap, one-sided estimate of a one-hot negative's loss with logits, so that the exact
/// log-sum-exp is taken only for the boxes that can be mined.
///
/// With logits, a negative's loss is `log(1 + g)` where `g = sum_{k≥1} exp(p[k] - p[0])`: the
/// odds against the background class. The vectorized passes (CLossKernels) compute an estimate
/// `ĝ` of `g` with a 2ⁿ·(1 + f) exponential (`bounding_exp`: a floor, a subtraction and one
/// multiply-add per eight lanes on AVX2, against a dozen operations for the exact one) whose
/// error is one-sided and bounded: `g ≤ ĝ ≤ 1.0615 g` in exact arithmetic. With every rounding of
/// both the estimate and the exact float32 computation accounted for, the value `G = expm1(loss)`
/// of the loss that the exact computation returns satisfies
///
///     ĝ / upperFactor ≤ G ≤ ĝ / lowerFactor.
///
/// From that bracket, without any exponential of the exact kind:
/// * **The zero test.** The exact loss is zero exactly when `p[0]` is the unique largest logit
///   and the float32 sum of the other exponentials is at most 2⁻⁵³ (so that `1 + sum` rounds to
///   1 in float64). The pass decides that from `ĝ` alone (``zeroLimit``, ``nonzeroLimit``) except
///   in a band of width 6 % around 2⁻⁵³, where it computes the loss exactly, as it does for
///   boxes whose estimate reaches ``largeEstimate`` (a logit about 80 above `p[0]`).
/// * **A lower bound of `G`**, `ĝ / upperFactor`, which the pass stores for the negative in
///   place of its loss; ``LogitRefinement`` then has the exact losses computed for the negatives
///   that can be mined, and only for those.
///
/// The constants live in the C header, where the passes use them; these are their Swift names.
enum LogitEstimate {
    /// `ĝ ≥ lowerFactor · G`: the estimate's exponential never falls below the exact one; the
    /// factor leaves room for float32 rounding of both computations (each under 2·10⁻⁵).
    static let lowerFactor: Double = LK_LOWER_FACTOR
    /// `ĝ ≤ upperFactor · G`: `max (1 + f) / 2^f = 1.0615` over `f` in [0, 1], plus rounding.
    static let upperFactor: Double = LK_UPPER_FACTOR
    /// 2⁻⁵³: the largest sum that `1 + sum` rounds away in float64.
    static let halfUlpOfOne = 0x1p-53
    /// `Float(halfUlpOfOne * lowerFactor).nextDown`: estimates at or below it are zero losses.
    static let zeroLimit: Float = LK_ZERO_LIMIT
    /// `Float(halfUlpOfOne * upperFactor).nextUp`: estimates above it are non-zero losses.
    static let nonzeroLimit: Float = LK_NONZERO_LIMIT
    /// `1 / upperFactor`, for the bound without a division per box.
    static let inverseUpperFactor: Double = LK_INVERSE_UPPER_FACTOR
    /// Estimates at or above it are computed exactly: the bounding exponential is clamped at
    /// 2¹¹⁵, so every box with a logit more than about 79.7 above `p[0]` reaches it.
    static let largeEstimate: Float = LK_LARGE_ESTIMATE
}

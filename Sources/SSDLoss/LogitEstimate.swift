#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A cheap, one-sided estimate of a one-hot negative's loss with logits, so that the exact
/// log-sum-exp is taken only for the boxes that can be mined.
///
/// With logits, a negative's loss is `log(1 + g)` where `g = sum_{k≥1} exp(p[k] - p[0])`: the
/// odds against the background class. The lane passes compute an estimate `ĝ` of `g` with a
/// 2ⁿ·(1 + f) exponential (``boundingExp(_:)``, about ten SSE instructions per four lanes
/// against about thirty for the exact one) whose error is one-sided and bounded: `g ≤ ĝ ≤ 1.0615 g` in exact
/// arithmetic. With every rounding of both the estimate and the exact float32 computation
/// accounted for, the value `G = expm1(loss)` of the loss that the exact computation returns
/// satisfies
///
///     ĝ / upperFactor ≤ G ≤ ĝ / lowerFactor.
///
/// From that bracket, without any exponential of the exact kind:
/// * **The zero test.** The exact loss is zero exactly when `p[0]` is the unique largest logit
///   and the float32 sum of the other exponentials is at most 2⁻⁵³ (so that `1 + sum` rounds to
///   1 in float64). ``classify(_:largestDifference:)`` decides that from `ĝ` alone except in a band of width
///   6 % around 2⁻⁵³, where the pass computes the loss exactly.
/// * **A lower bound of `G`**, ``lowerBound(_:)``, which the pass stores for the negative in
///   place of its loss; ``LogitRefinement`` then computes exact losses for the negatives that
///   can be mined, and only for those.
enum LogitEstimate {
    /// `ĝ ≥ lowerFactor · G`: the estimate's exponential never falls below the exact one; the
    /// factor leaves room for float32 rounding of both computations (each under 2·10⁻⁵).
    static let lowerFactor = 0.9999
    /// `ĝ ≤ upperFactor · G`: `max (1 + f) / 2^f = 1.0615` over `f` in [0, 1], plus rounding.
    static let upperFactor = 1.0617
    /// Boxes with a logit more than this above `p[0]` are computed exactly: ``boundingExp(_:)``
    /// is only valid up to it. (The test also sees the lanes past a box's classes in its last
    /// chunk of eight, so a box whose next values exceed it goes the exact way too, correctly.)
    static let largestGap: Float = 80
    /// 2⁻⁵³: the largest sum that `1 + sum` rounds away in float64.
    static let halfUlpOfOne = 0x1p-53

    // Literals, not expressions: a computed static is initialized lazily and checked at every
    // use in the pass. A test checks them against the expressions in their comments.
    /// `Float(halfUlpOfOne * lowerFactor).nextDown`: estimates at or below it are zero losses.
    static let zeroLimit: Float = 0x1.fff2e2p-54
    /// `Float(halfUlpOfOne * upperFactor).nextUp`: estimates above it are non-zero losses.
    static let nonzeroLimit: Float = 0x1.0fcb94p-53
    /// `1 / upperFactor`, for the bound without a division per box (its rounding, 10⁻¹⁶, is
    /// far inside the factors' margins).
    static let inverseUpperFactor = 0.94188565508147304

    /// What the estimate tells about a one-hot negative.
    enum Verdict {
        /// The exact loss is zero: the box is not a negative with a non-zero loss.
        case zero
        /// The exact loss is non-zero, and ``LogitEstimate/lowerBound(_:)`` bounds its `G`.
        case estimated
        /// The estimate cannot decide (near the zero threshold, or a huge gap): compute exactly.
        case exact
    }

    /// Classifies a negative by its estimate `ĝ` and the largest `p[k] - p[0]` it saw (NaN in
    /// either goes to ``Verdict/exact``).
    @inline(__always)
    static func classify(_ estimate: Float, largestDifference: Float) -> Verdict {
        guard largestDifference <= largestGap else { return .exact }
        if estimate <= zeroLimit { return .zero }
        if estimate > nonzeroLimit { return .estimated }
        return .exact
    }

    /// The ``Verdict`` and `ĝ` of the box whose C logits start at element `row` of `base`, and
    /// the OR of the exponent test of every logit (see ``LaneFormat/exponentStep``).
    ///
    /// Kept out of line, where the compact pass calls it once per negative: that pass is large
    /// already, and the call costs a few nanoseconds next to the loop. (It was moved out while
    /// chasing the compiler crash described in ``CompactLanePass``, whose cause turned out to be
    /// elsewhere.)
    @inline(never)
    static func odds<F: LaneFormat>(
        _ format: F.Type, _ base: UnsafeRawPointer, row: Int, rawMasks: UnsafeMutableBufferPointer<RawMasks<F>>,
        masks: UnsafeMutableBufferPointer<LaneMasks>
    ) -> (verdict: Verdict, estimate: Float, marks: F.Raw) {
        let background = SIMD8<Float>(repeating: F.scalar(base, row))
        let step = F.Raw(repeating: F.exponentStep)
        var odds = SIMD8<Float>()
        var peak = SIMD8<Float>(repeating: -.infinity)
        var marks = F.Raw()
        for chunk in 0..<rawMasks.count {
            let prediction = F.raw(base, row &+ chunk &* 8)
            marks |= (prediction & rawMasks[chunk].exponent) &+ step
            let difference = F.float(prediction) - background
            peak = lanewiseMax(peak, difference)
            odds += floatLanes(bitLanes(boundingExp(difference)) & masks[chunk].otherClassBits)
        }
        let estimate = horizontalSum(odds)
        return (classify(estimate, largestDifference: horizontalMax(peak)), estimate, marks)
    }

    /// `ĝ / upperFactor`: a lower bound of `G = expm1(loss)`.
    @inline(__always)
    static func lowerBound(_ estimate: Float) -> Double {
        Double(estimate) * inverseUpperFactor
    }
}

/// `exp(d)` rounded up by at most 6.15 %, for eight float32 lanes with `d ≤ 80`:
/// `2ⁿ · (1 + f)` where `n + f = d · log₂e`, `n` an integer and `f` in [0, 1].
///
/// The chord `1 + f` lies above the convex `2^f` on [0, 1] and meets it at both ends, so the
/// result is never below `exp(d)` and at most `max (1 + f) / 2^f = 1.0615` times it. Lanes below
/// −86.99 are raised to it, so `n` stays within float32's normal exponents: their terms stay
/// above `exp(d)` but below 2⁻¹²⁵, far too small to move the bracket of any non-zero loss (its
/// odds exceed 10⁻¹⁶), as the exact computation's clamp at −87 does. Lanes above 80 give
/// garbage (callers send those boxes to the exact computation); no lane can trap, NaN included.
@inline(__always)
func boundingExp(_ d: SIMD8<Float>) -> SIMD8<Float> {
    let scaled = d * 1.442_695_04
    let t = scaled.replacing(with: -125.5, where: scaled .< -125.5)
    // Adding 1.5 · 2^23 rounds to an integer kept in the low mantissa bits; t − ½ rounded to
    // the nearest integer is ⌊t⌋ (or t itself when t is an integer, where f = 0 or 1 is exact).
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = (t - 0.5) + magic
    let f = t - (shifted - magic)
    let scale = (bitLanes(shifted) &- bitLanes(magic) &+ 127) &<< 23
    return (f + 1) * floatLanes(scale)
}

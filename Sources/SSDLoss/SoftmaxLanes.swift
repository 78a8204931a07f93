/// The log-sum-exp of one box's logits from float32 lanes, shared by the vectorized passes.
enum SoftmaxLanes {
    /// A box's loss with logits as `addend + log(sum)`: `sum = sum_k exp(p[k] - top)` by
    /// ``sumOfExponentials(_:masks:top:)`` and `addend = top - p[target]`.
    ///
    /// Reads the `masks.count` chunks of eight elements from element `row` of `base` (lanes past
    /// the box's C classes are read and ignored, so they must be readable) into `staged`.
    ///
    /// Not inlined: the passes call it only for the few boxes an estimate cannot settle and for
    /// refinement, so a call per box costs little and keeps the passes' loops small.
    @inline(never)
    static func lossTerms<F: LaneFormat>(
        _ format: F.Type, _ base: UnsafeRawPointer, row: Int, target: Int,
        masks: UnsafeMutableBufferPointer<LaneMasks>, staged: UnsafeMutablePointer<SIMD8<Float>>
    ) -> (sum: Double, addend: Double) {
        var top = SIMD8<Float>(repeating: -.infinity)
        for chunk in 0..<masks.count {
            let values = F.float(F.raw(base, row &+ chunk &* 8))
            staged[chunk] = values
            top = lanewiseMax(top, floatLanes(bitLanes(values) & masks[chunk].classBits | masks[chunk].fill))
        }
        let largest = horizontalMax(top)
        let sum = sumOfExponentials(staged, masks: masks, top: largest)
        return (sum, Double(largest) - Double(F.scalar(base, row &+ target)))
    }

    /// `sum_k exp(p[k] - top)` over a box's class lanes, held in `staged` (one chunk per mask).
    ///
    /// The lanes equal to `top` contribute exactly 1 each and are counted apart from the others,
    /// whose float32 sum is added in float64: a sum of 1 + tiny keeps its tiny part, as in a
    /// float64 reference, so the loss `(top - p) + log(sum)` is zero exactly when the
    /// reference's is, and `n_nonzero` agrees with it.
    @inline(__always)
    static func sumOfExponentials(
        _ staged: UnsafeMutablePointer<SIMD8<Float>>, masks: UnsafeMutableBufferPointer<LaneMasks>, top: Float
    ) -> Double {
        var rest = SIMD8<Float>()
        var tops = SIMD8<Float>()
        for chunk in 0..<masks.count {
            let isClass = masks[chunk].classLanes
            let prediction = staged[chunk]
            let atTop = isClass .& (prediction .== top)
            tops += SIMD8<Float>().replacing(with: 1, where: atTop)
            let e = vectorExp(prediction - top)
            rest += e.replacing(with: 0, where: .!isClass .| atTop)
        }
        return Double(horizontalSum(tops)) + Double(horizontalSum(rest))
    }
}

/// The log-sum-exp of one box's logits from float32 lanes, shared by the vectorized passes.
enum SoftmaxLanes {
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

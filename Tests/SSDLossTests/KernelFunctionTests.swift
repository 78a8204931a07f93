import CLossKernels
import Foundation
import Testing

@testable import SSDLoss

/// The vector functions of the kernels, on every path this CPU runs: each against the C
/// library or an exact conversion, over every input that matters.
@Suite("Kernel functions")
struct KernelFunctionTests {
    @Test("float16 and bfloat16 widening is exact for every bit pattern", arguments: KernelPathTests.supported)
    func widening(_ path: KernelPath) {
        let patterns = (0..<(1 << 16)).map { UInt16($0) }
        var half = [Float](repeating: 0, count: patterns.count)
        var brain = [Float](repeating: 0, count: patterns.count)
        patterns.withUnsafeBytes { lk_widen(path.kernel, LK_FLOAT16, $0.baseAddress, &half, patterns.count) }
        patterns.withUnsafeBytes { lk_widen(path.kernel, LK_BFLOAT16, $0.baseAddress, &brain, patterns.count) }
        var wrong = 0
        for (i, bits) in patterns.enumerated() {
            let expected = Float(Float16(bitPattern: bits))
            if !(half[i].bitPattern == expected.bitPattern || (half[i].isNaN && expected.isNaN)) { wrong += 1 }
            if brain[i].bitPattern != UInt32(bits) << 16 { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    @Test("the float64 logarithm is within 1 ulp and exact at 1", arguments: KernelPathTests.supported)
    func logarithm(_ path: KernelPath) {
        var rng = SplitMix64(seed: 31)
        let x =
            (0..<20_000).map { i in
                i % 2 == 0
                    ? Foundation.exp(Double.random(in: -34.6...88, using: &rng))
                    : 1 - Double.random(in: 0...1e-6, using: &rng)
            } + [1, 1e-15, 0x1p-1022, 1.7e308]
        var logs = [Double](repeating: 0, count: x.count)
        lk_vector_log(path.kernel, x, &logs, x.count)
        let worst = zip(x, logs).map { abs($1 - Foundation.log($0)) / Foundation.log($0).ulp }.max() ?? 0
        #expect(worst <= 1.0, "worst error \(worst) ulp")
        #expect(logs[x.count - 4] == 0)
    }

    @Test("the float32 exponential is within 2 ulp for x ≤ 0", arguments: KernelPathTests.supported)
    func exponential(_ path: KernelPath) {
        let x = stride(from: -87.0, through: 0, by: 0.0007).map { Float($0) } + [0]
        var e = [Float](repeating: 0, count: x.count)
        lk_vector_exp(path.kernel, x, &e, x.count)
        let worst = zip(x, e).map { Double(abs($1 - Foundation.expf($0))) / Double(Foundation.expf($0).ulp) }.max() ?? 0
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(e[x.count - 1] == 1)
    }

    @Test("the float64 exponential is within 2 ulp for x ≤ 0", arguments: KernelPathTests.supported)
    func exponential64(_ path: KernelPath) {
        var rng = SplitMix64(seed: 5)
        let x = (0..<50_000).map { _ in -Double.random(in: 0...708, using: &rng) } + [0, -1e-300, -0.5, -708]
        var e = [Double](repeating: 0, count: x.count)
        lk_vector_exp64(path.kernel, x, &e, x.count)
        let worst = zip(x, e).map { abs($1 - Foundation.exp($0)) / Foundation.exp($0).ulp }.max() ?? 0
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(e[50_000] == 1)
    }

    @Test(
        "the bounding exponential is never below exp and at most 6.15 % above it", arguments: KernelPathTests.supported)
    func boundingExponential(_ path: KernelPath) {
        var rng = SplitMix64(seed: 17)
        var inputs: [Float] = stride(from: -86.9, through: 79.7, by: 0.001).map { Float($0) }
        inputs += (0..<100_000).map { _ in Float.random(in: -86.9...79.7, using: &rng) }
        let (low, high) = Self.ratioRange(inputs, path: path)
        // Rounding may take it a few millionths below exp; the factors allow 10⁻⁴.
        #expect(low >= 1 - 2e-5)
        #expect(high <= 1.0615 + 2e-5)
        #expect(high > 1.06, "the chord's error should be reached somewhere in the sweep")
        #expect(low > LogitEstimate.lowerFactor)
        #expect(high < LogitEstimate.upperFactor)
        // Below −86.99 the input is raised: still above exp, and below 2⁻¹²⁵ (such terms cannot
        // move the bracket of any loss large enough to be non-zero).
        let clamped = stride(from: -200.0, through: -86.9, by: 0.01).map { Float($0) }
        #expect(Self.ratioRange(clamped, path: path).low >= 1 - 2e-5)
        var tiny: Float = 0
        lk_bounding_exp(path.kernel, [-200], &tiny, 1)
        #expect(tiny < 0x1p-125)
        // Above about 79.7 the result stays at 2¹¹⁵, at least the large estimate.
        var huge = [Float](repeating: 0, count: 3)
        lk_bounding_exp(path.kernel, [79.8, 120, .infinity], &huge, 3)
        #expect(huge.allSatisfy { $0 == 0x1p115 && $0 >= LogitEstimate.largeEstimate })
    }

    @Test(
        "the one-multiply-add bounding exponential keeps the same bracket for backgrounds within ±64",
        arguments: KernelPathTests.supported)
    func boundingExponentialFrom(_ path: KernelPath) {
        var rng = SplitMix64(seed: 23)
        for background: Float in [0, 1.5, -3.25, 17.2, -40.125, 63.99, -64] {
            // The terms that matter: differences from −86.9 to 79.7.
            var inputs = stride(from: -86.9, through: 79.7, by: 0.003).map { background + Float($0) }
            inputs += (0..<20_000).map { _ in background + Float.random(in: -86.9...79.7, using: &rng) }
            var bounds = [Float](repeating: 0, count: inputs.count)
            lk_bounding_exp_from(path.kernel, inputs, background, &bounds, inputs.count)
            var low = Double.infinity, high = 0.0
            for (x, bound) in zip(inputs, bounds) {
                let ratio = Double(bound) / Foundation.exp(Double(x) - Double(background))
                low = min(low, ratio)
                high = max(high, ratio)
            }
            #expect(low >= 1 - 3e-5 && low > LogitEstimate.lowerFactor, "background \(background): \(low)")
            #expect(high <= 1.0615 + 3e-5 && high < LogitEstimate.upperFactor, "background \(background): \(high)")
            // Far below, tiny; far above, the clamp at 2¹¹⁵ that sends a box to the exact computation.
            var extremes = [Float](repeating: 0, count: 2)
            lk_bounding_exp_from(path.kernel, [background - 300, background + 100], background, &extremes, 2)
            #expect(extremes[0] < 0x1p-124 && extremes[1] == 0x1p115)
        }
    }

    @Test("the k-th largest value, sampled or not, ties included", arguments: KernelPathTests.supported)
    func kthLargest(_ path: KernelPath) {
        var rng = SplitMix64(seed: 37)
        for count in [1, 9, 500, 5_000, 70_000] {
            // Repeated values make ties; one run of equal values at the top misleads the sample.
            var values = (0..<count).map { _ in Double(Int.random(in: 0..<(count / 3 + 2), using: &rng)) * 0.25 }
            if count > 1_000 { for i in 0..<(count / 50) { values[i * 50] = 1e9 } }
            let sorted = values.sorted(by: >)
            var scratch = [Int](repeating: 0, count: count)
            for k in Set([1, 2, count / 100, count / 50, count / 50 + 1, count / 10, count / 2, count - 1])
            where k >= 1 && k < count {
                let kth = lk_kth_largest(path.kernel, values, count, k, &scratch)
                #expect(kth == sorted[k - 1], "count \(count), k \(k)")
            }
            #expect(lk_kth_largest(path.kernel, values, count, 0, &scratch) == .infinity)
            #expect(lk_kth_largest(path.kernel, values, count, count, &scratch) == -.infinity)
        }
    }

    /// The smallest and largest `bounding_exp(x) / exp(x)` over `inputs`.
    static func ratioRange(_ inputs: [Float], path: KernelPath) -> (low: Double, high: Double) {
        var bounds = [Float](repeating: 0, count: inputs.count)
        lk_bounding_exp(path.kernel, inputs, &bounds, inputs.count)
        var low = Double.infinity
        var high = 0.0
        for (x, bound) in zip(inputs, bounds) {
            let ratio = Double(bound) / Foundation.exp(Double(x))
            low = min(low, ratio)
            high = max(high, ratio)
        }
        return (low, high)
    }
}

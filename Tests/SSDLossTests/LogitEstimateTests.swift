import Foundation
import Testing

@testable import SSDLoss

/// The logits negatives that the vectorized passes only estimate: the estimate's bracket, the
/// zero test it decides, and the refinement that must compute every negative mining can pick.
/// Each batch is compared with the scalar float64 pass, which computes every loss exactly.
@Suite("Logit estimates")
struct LogitEstimateTests {
    @Test("the estimate's literals are the expressions they stand for")
    func literals() {
        #expect(LogitEstimate.zeroLimit == Float(LogitEstimate.halfUlpOfOne * LogitEstimate.lowerFactor).nextDown)
        #expect(LogitEstimate.nonzeroLimit == Float(LogitEstimate.halfUlpOfOne * LogitEstimate.upperFactor).nextUp)
        #expect(LogitEstimate.inverseUpperFactor == 1 / LogitEstimate.upperFactor)
        // The clamp at 2¹¹⁵ (a gap of about 79.7) must reach the large estimate, which must lie
        // far above any estimate the zero test decides.
        #expect(LogitEstimate.largeEstimate <= 0x1p115 && LogitEstimate.largeEstimate > 1e30)
    }

    /// One image of negatives whose odds `g` sit around 2⁻⁵³, where a loss stops being zero
    /// (some inside the estimate's undecided band), plus a few positives so that some negatives
    /// are mined.
    static func thresholdBatch() -> (KerasBatch, [Int32]) {
        let offsets = [
            -0.5, -0.1, -0.05, -0.03, -0.02, -0.01, -0.003, -0.001, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.1, 0.5,
        ]
        let shape = BatchShape(batch: 1, boxes: offsets.count * 4 + 4, classes: 21)
        var batch = KerasBatch(shape: shape)
        var labels: [Int32] = []
        let threshold = Foundation.log(0x1p-53)
        for box in 0..<shape.boxCount {
            let positive = box >= offsets.count * 4
            let label: Int32 = positive ? 3 : 0
            labels.append(label)
            batch.yTrue[batch.index(box: box, Int(label))] = 1
            for k in 1..<shape.classes { batch.yPred[batch.index(box: box, k)] = -100 }
            if !positive {
                // One competing class at the threshold's logit, shifted. (With two classes near
                // it, whether their terms survive `1 + sum` depends on the order of summation.)
                batch.yPred[batch.index(box: box, 1 + box % (shape.classes - 1))] =
                    threshold + offsets[box % offsets.count]
            }
        }
        batch.yPred = roundTrip(batch.yPred, through: .float32)
        return (batch, labels)
    }

    @Test("negatives around the zero threshold are counted as the float64 pass counts them")
    func zeroThreshold() throws {
        let (batch, labels) = Self.thresholdBatch()
        let compact = CompactBatch(batch, labels: labels)
        for mining in MiningMode.allCases {
            let parameters = LossParameters(mining: mining, scores: .logits)
            let expected = try batch.scalarReference(parameters)
            #expect(expected.negativesAvailable > 0 && expected.negativesAvailable < batch.shape.boxCount - 4)
            for dtype in [ScalarType.float32, .float64] {
                #expect(agree(try batch.loss(parameters, dtype: dtype), expected, tolerance: 1e-6), "\(dtype)")
                #expect(agree(try compact.loss(parameters, dtype: dtype), expected, tolerance: 1e-6), "\(dtype)")
            }
        }
    }

    /// Negatives whose losses lie within a few percent of each other (inside the estimate's
    /// bracket, so that refinement must compute most of them), with exact duplicates for ties,
    /// huge logit gaps and some soft targets, which the passes compute exactly from the start.
    static func crowdedBatch(seed: UInt64) -> (KerasBatch, [Int32]) {
        let shape = BatchShape(batch: 3, boxes: 700, classes: 21)
        var rng = SplitMix64(seed: seed)
        var batch = KerasBatch(shape: shape)
        var labels: [Int32] = []
        for box in 0..<shape.boxCount {
            let u = Double.random(in: 0..<1, using: &rng)
            let label: Int32 = u < 0.05 ? -1 : (u < 0.15 ? Int32.random(in: 1...20, using: &rng) : 0)
            labels.append(label)
            if label >= 0 { batch.yTrue[batch.index(box: box, Int(label))] = 1 }
            if box % 97 == 5 && label == 0 { batch.yTrue[batch.index(box: box, 0)] = 0.5 }
            for k in 0..<shape.classes {
                batch.yPred[batch.index(box: box, k)] = k == 0 ? 0 : -3 + Double.random(in: -0.05...0.05, using: &rng)
            }
            if box % 31 == 0 { batch.yPred[batch.index(box: box, 7)] = 120 }
            if box % 13 == 0, box > 0 {
                for k in 0..<shape.classes {
                    batch.yPred[batch.index(box: box, k)] = batch.yPred[batch.index(box: box - 1, k)]
                }
            }
            for j in 0..<4 {
                batch.yTrue[batch.index(box: box, shape.classes + j)] = Double.random(in: -1...1, using: &rng)
                batch.yPred[batch.index(box: box, shape.classes + j)] = Double.random(in: -1...1, using: &rng)
            }
        }
        return (batch, labels)
    }

    @Test("refinement computes every negative that mining picks", arguments: [1, 2, 3])
    func crowded(_ seed: UInt64) throws {
        let (raw, labels) = Self.crowdedBatch(seed: seed)
        for dtype in LanePassTests.laneTypes {
            let batch = KerasBatch(
                shape: raw.shape, yTrue: roundTrip(raw.yTrue, through: dtype),
                yPred: roundTrip(raw.yPred, through: dtype))
            // The compact batch has no soft targets: it is built from the labels.
            let compact = CompactBatch(batch, labels: labels)
            var oneHot = batch
            for box in 0..<batch.shape.boxCount where labels[box] == 0 {
                oneHot.yTrue[oneHot.index(box: box, 0)] = 1
            }
            for parameters in [
                LossParameters(scores: .logits),
                LossParameters(negPosRatio: 1, mining: .image, scores: .logits),
                LossParameters(negPosRatio: 0, nNegMin: 1_000_000, scores: .logits),
                LossParameters(negPosRatio: 0, nNegMin: 0, scores: .logits),
            ] {
                let expected = try batch.scalarReference(parameters)
                #expect(
                    agree(try batch.loss(parameters, dtype: dtype), expected, tolerance: 1e-6), "\(dtype) \(parameters)"
                )
                #expect(
                    agree(
                        try compact.loss(parameters, dtype: dtype), try oneHot.scalarReference(parameters),
                        tolerance: 1e-6),
                    "\(dtype) \(parameters)")
            }
        }
    }

    /// The estimate's worst case: negatives whose every term is overestimated by the full 6.15 %
    /// (`f ≈ 0.4427`) against negatives whose terms are exact powers of two (`f = 0`) and whose
    /// odds are larger by 0.015 %. The first kind has the larger bounds, the second the larger
    /// losses: the refinement gate must let every one of the second kind through, with only a
    /// few hundredths of a percent to spare.
    @Test("the refinement gate holds at the estimate's worst case", arguments: MiningMode.allCases)
    func worstCase(_ mining: MiningMode) throws {
        let shape = BatchShape(batch: 1, boxes: 80, classes: 21)
        var batch = KerasBatch(shape: shape)
        let ln2 = Foundation.log(2.0)
        for box in 0..<shape.boxCount {
            batch.yTrue[batch.index(box: box, 0)] = 1
            for k in 1..<shape.classes { batch.yPred[batch.index(box: box, k)] = -100 }
            if box % 2 == 0 {
                // Two terms of 2^-1.5573 each: g = 0.67960, estimated 6.15 % high.
                batch.yPred[batch.index(box: box, 3)] = (-2 + 0.4427) * ln2
                batch.yPred[batch.index(box: box, 11)] = (-2 + 0.4427) * ln2
            } else {
                // 2^-1 + 2^-3 + 2^-5 + 2^-6 + 2^-7: g = 0.67969, estimated exactly.
                for (k, m) in [(2, 1.0), (5, 3.0), (9, 5.0), (14, 6.0), (20, 7.0)] {
                    batch.yPred[batch.index(box: box, k)] = -m * ln2
                }
            }
        }
        batch.yPred = roundTrip(batch.yPred, through: .float32)
        let parameters = LossParameters(negPosRatio: 0, nNegMin: 40, mining: mining, scores: .logits)
        let expected = try batch.scalarReference(parameters)
        let actual = try batch.loss(parameters, dtype: .float32)
        #expect(agree(actual, expected, tolerance: 1e-6))
        #expect(agree(try batch.loss(parameters, dtype: .float64), expected, tolerance: 1e-9))
        // The 40 largest losses are exactly the second kind's.
        let second = Foundation.log1p(0.5 + 0.125 + 0.03125 + 0.015625 + 0.0078125)
        #expect(isClose(actual.classPerItem[0], 40 * second, tolerance: 1e-6))
    }

    @Test("the exact pass is chosen when mining keeps a large share, and gives what the estimates give")
    func exactPass() throws {
        let shape = BatchShape(batch: 2, boxes: 400, classes: 21)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 9, logits: true)
        let t = encode(batch.yTrue, as: .float32), p = encode(batch.yPred, as: .float32)
        let chosen: (LossParameters) -> Bool = { parameters in
            t.withUnsafeBytes { tb in
                p.withUnsafeBytes { pb in
                    MultiBoxLoss(parameters: parameters).prefersExactPass(.keras(yTrue: tb, yPred: pb), shape: shape)
                }
            }
        }
        #expect(!chosen(LossParameters(scores: .logits)))
        #expect(chosen(LossParameters(nNegMin: shape.boxCount / 2, scores: .logits)))
        #expect(!chosen(LossParameters(nNegMin: shape.boxes / 2, scores: .logits)))
        #expect(chosen(LossParameters(nNegMin: shape.boxes / 2, mining: .image, scores: .logits)))
        #expect(!chosen(LossParameters(nNegMin: shape.boxCount, scores: .probabilities)))
        // In the compact layout the labels tell before the pass: 10 % positives, 90 % negatives,
        // so 3 per positive keeps a third of the negatives (estimates), 5 per positive more than
        // half (the exact pass).
        let crowded = labels.indices.map { Int32($0 % 10 == 0 ? 1 + $0 % 3 : 0) }
        let compactChosen: (LossParameters) -> Bool = { parameters in
            let bytes = crowded.flatMap { label in withUnsafeBytes(of: label.littleEndian) { Array($0) } }
            return bytes.withUnsafeBytes { l in
                MultiBoxLoss(parameters: parameters).prefersExactPass(
                    .compact(labels: l, gtOffsets: l, scores: l, predOffsets: l), shape: shape)
            }
        }
        #expect(!compactChosen(LossParameters(scores: .logits)))
        #expect(compactChosen(LossParameters(negPosRatio: 5, scores: .logits)))
        #expect(compactChosen(LossParameters(negPosRatio: 5, mining: .image, scores: .logits)))
        // Either way the same negatives are mined and the losses agree (the kept losses may be
        // added in another order), on every lane type.
        for dtype in [ScalarType.float32, .float16, .bfloat16] {
            let carried = KerasBatch(
                shape: shape, yTrue: roundTrip(batch.yTrue, through: dtype),
                yPred: roundTrip(batch.yPred, through: dtype))
            for mining in MiningMode.allCases {
                let scope = mining == .batch ? shape.boxCount : shape.boxes
                let exact = try carried.loss(
                    LossParameters(nNegMin: scope / 2, mining: mining, scores: .logits), dtype: dtype)
                let estimated = try carried.loss(
                    LossParameters(nNegMin: scope / 3, mining: mining, scores: .logits), dtype: dtype)
                let reference = try carried.scalarReference(
                    LossParameters(nNegMin: scope / 2, mining: mining, scores: .logits))
                #expect(agree(exact, reference, tolerance: 1e-6), "\(dtype) \(mining)")
                #expect(
                    agree(
                        estimated,
                        try carried.scalarReference(
                            LossParameters(nNegMin: scope / 3, mining: mining, scores: .logits)), tolerance: 1e-6))
                let compact = CompactBatch(carried, labels: crowded)
                var oneHot = carried
                for box in 0..<shape.boxCount {
                    for k in 0..<shape.classes {
                        oneHot.yTrue[oneHot.index(box: box, k)] = crowded[box] == Int32(k) ? 1 : 0
                    }
                }
                for ratio in [3, 5] {
                    let parameters = LossParameters(negPosRatio: ratio, mining: mining, scores: .logits)
                    #expect(
                        agree(
                            try compact.loss(parameters, dtype: dtype), try oneHot.scalarReference(parameters),
                            tolerance: 1e-6))
                }
            }
        }
    }
}

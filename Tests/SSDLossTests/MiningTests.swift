import SSDLoss
import Testing

@Suite("Hard-negative mining")
struct MiningTests {
    /// Every box background, with the same prediction: every negative loss is equal.
    static func background(batch: Int, boxes: Int) -> KerasBatch {
        let shape = BatchShape(batch: batch, boxes: boxes, classes: 3)
        var result = KerasBatch(shape: shape)
        for box in 0..<shape.boxCount {
            result.yTrue[result.index(box: box, 0)] = 1
            result.yPred[result.index(box: box, 0)] = 0.5
            result.yPred[result.index(box: box, 1)] = 0.5
        }
        return result
    }

    @Test("zero positives keep no negative unless n_neg_min asks", arguments: [0, 5, 1000])
    func zeroPositives(_ minimum: Int) throws {
        let shape = BatchShape(batch: 2, boxes: 50, classes: 4)
        let (batch, _) = KerasBatch.random(shape: shape, seed: 11) { rng in
            Int32.random(in: -1...0, using: &rng)
        }
        let parameters = LossParameters(nNegMin: minimum)
        let result = try batch.loss(parameters)
        #expect(result.positives == 0)
        #expect(result.negatives == min(minimum, result.negativesAvailable))
        #expect(result.localization == 0)
        if minimum == 0 {
            #expect(result.loss == 0)
        } else {
            #expect(result.loss > 0)
        }
        #expect(agree(result, referenceLoss(batch, parameters)))
    }

    @Test("a batch of ignored boxes has zero loss and no counts", arguments: ScalarType.allCases)
    func allIgnored(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 2, boxes: 30, classes: 4)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 5) { _ in -1 }
        for parameters in [LossParameters(nNegMin: 10), LossParameters(mining: .image, scores: .logits)] {
            for result in [
                try batch.loss(parameters, dtype: dtype),
                try CompactBatch(batch, labels: labels).loss(parameters, dtype: dtype),
            ] {
                #expect(result.loss == 0 && result.positives == 0)
                #expect(result.negatives == 0 && result.negativesAvailable == 0)
                #expect(result.perItem == [0, 0])
            }
        }
    }

    @Test("ties go to the lowest flat index", arguments: [1, 3, 4, 5, 7, 8])
    func ties(_ minimum: Int) throws {
        let batch = Self.background(batch: 2, boxes: 4)
        let result = try batch.loss(LossParameters(nNegMin: minimum))
        let cl = -naturalLog(0.5)
        #expect(result.negatives == minimum && result.negativesAvailable == 8)
        #expect(isClose(result.classPerItem[0], Double(min(minimum, 4)) * cl, tolerance: 1e-12))
        #expect(isClose(result.classPerItem[1], Double(max(minimum - 4, 0)) * cl, tolerance: 1e-12))
    }

    @Test("ties inside one image keep the earliest boxes, next to larger losses")
    func tiesWithinImage() throws {
        var batch = Self.background(batch: 1, boxes: 6)
        // Box 4 has the largest loss; the rest tie. Keep 3: box 4, then boxes 0 and 1.
        batch.yPred[batch.index(box: 4, 0)] = 0.1
        let parameters = LossParameters(nNegMin: 3)
        let result = try batch.loss(parameters)
        #expect(agree(result, referenceLoss(batch, parameters), tolerance: 1e-12))
        #expect(isClose(result.classPerItem[0], -naturalLog(0.1) - 2 * naturalLog(0.5), tolerance: 1e-12))
    }

    @Test("image mining equals batch mining image by image", arguments: [0, 1, 2], [false, true])
    func imageMining(_ seed: Int, logits: Bool) throws {
        let shape = BatchShape(batch: 4, boxes: 60, classes: 4)
        let (batch, _) = KerasBatch.random(shape: shape, seed: UInt64(100 + seed), logits: logits)
        let scores: ScoreKind = logits ? .logits : .probabilities
        let image = try batch.loss(LossParameters(nNegMin: 2, mining: .image, scores: scores))
        var negatives = 0
        var available = 0
        for b in 0..<shape.batch {
            let alone = try batch.image(b).loss(LossParameters(nNegMin: 2, mining: .batch, scores: scores))
            #expect(isClose(image.classPerItem[b], alone.classPerItem[0], tolerance: 1e-12))
            #expect(isClose(image.locPerItem[b], alone.locPerItem[0], tolerance: 1e-12))
            negatives += alone.negatives
            available += alone.negativesAvailable
        }
        #expect(image.negatives == negatives && image.negativesAvailable == available)
    }

    @Test("soft labels floor n_pos for k but divide by it whole")
    func softLabels() throws {
        let shape = BatchShape(batch: 1, boxes: 20, classes: 3)
        var batch = KerasBatch(shape: shape)
        for box in 0..<20 {
            let positive = box < 3
            batch.yTrue[batch.index(box: box, 0)] = positive ? 0.1 : 0.9
            batch.yTrue[batch.index(box: box, 1)] = positive ? 0.9 : 0.1
            batch.yPred[batch.index(box: box, 0)] = 0.2 + 0.01 * Double(box)
            batch.yPred[batch.index(box: box, 1)] = 0.8 - 0.01 * Double(box)
        }
        let result = try batch.loss(LossParameters())
        // n_pos = 3 * 0.9 + 17 * 0.1 = 4.4 → k = 3 * 4 = 12.
        #expect(isClose(result.positives, 4.4, tolerance: 1e-12))
        #expect(result.negatives == 12 && result.negativesAvailable == 20)
        #expect(agree(result, referenceLoss(batch, LossParameters())))
    }
}

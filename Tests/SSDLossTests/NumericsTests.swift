import Foundation
import SSDLoss
import Testing

/// The natural logarithm, so the other test files need no Foundation import of their own.
func naturalLog(_ x: Double) -> Double { Foundation.log(x) }

@Suite("Numerics")
struct NumericsTests {
    @Test("huge logits stay finite", arguments: [(ScalarType.float32, 1e4), (.float64, 1e300), (.float16, 6e4)])
    func hugeLogits(_ dtype: ScalarType, magnitude: Double) throws {
        let shape = BatchShape(batch: 2, boxes: 16, classes: 4)
        let (batch, _) = KerasBatch.random(shape: shape, seed: 3, logits: true, logitScale: 1) { rng in
            Int32.random(in: -1...3, using: &rng)
        }
        var huge = batch
        for box in 0..<shape.boxCount {
            for k in 0..<4 {
                huge.yPred[huge.index(box: box, k)] = (box + k) % 3 == 0 ? magnitude : -magnitude
            }
        }
        let parameters = LossParameters(nNegMin: 4, scores: .logits)
        let result = try huge.loss(parameters, dtype: dtype)
        #expect(result.loss.isFinite && result.classification.isFinite)
        #expect(result.perItem.allSatisfy { $0.isFinite })
        #expect(result.classification > 0)
        let carried = KerasBatch(
            shape: shape, yTrue: roundTrip(huge.yTrue, through: dtype), yPred: roundTrip(huge.yPred, through: dtype))
        #expect(agree(result, referenceLoss(carried, parameters), tolerance: 1e-9))
    }

    @Test("probabilities are clipped at 1e-15 before the logarithm")
    func clip() throws {
        let shape = BatchShape(batch: 1, boxes: 1, classes: 2)
        var batch = KerasBatch(shape: shape)
        batch.yTrue[1] = 1
        batch.yPred[1] = 0
        let result = try batch.loss(LossParameters())
        #expect(isClose(result.classification, -Foundation.log(1e-15), tolerance: 1e-12))
    }

    @Test("smooth L1 switches at |d| = 1", arguments: [(0.5, 0.125), (1.0, 0.5), (-2.0, 1.5), (0.999, 0.4990005)])
    func smoothL1(_ d: Double, expected: Double) throws {
        let shape = BatchShape(batch: 1, boxes: 1, classes: 2)
        var batch = KerasBatch(shape: shape)
        batch.yTrue[1] = 1
        batch.yPred[1] = 1
        batch.yTrue[2] = d
        let result = try batch.loss(LossParameters())
        #expect(isClose(result.localization, expected, tolerance: 1e-12))
        #expect(result.classification == 0)
    }

    @Test("the memory floor sums every float32 lane")
    func memoryFloor() {
        let values = (0..<1000).map { Float($0 % 7) }
        let sum = values.withUnsafeBytes { MemoryFloor.streamSum([$0, UnsafeRawBufferPointer(rebasing: $0[0..<8])]) }
        #expect(sum == Double(values.reduce(0, +)) + 1)
    }
}

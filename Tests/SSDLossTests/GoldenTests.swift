import SSDLoss
import Testing

@Suite("Golden cases")
struct GoldenTests {
    @Test("matches the reference loss", arguments: GoldenCase.names)
    func golden(_ name: String) throws {
        let golden = try GoldenCase.load(name)
        let (t, p) = try golden.tensors()
        let batch = KerasBatch(shape: golden.shape)
        let result = try batch.compute(golden.params, dtype: golden.dtype, yTrue: t, yPred: p)
        let expected = golden.expected

        #expect(isClose(result.loss, expected.loss), "loss \(result.loss) vs \(expected.loss)")
        #expect(result.perItem.count == golden.batch)
        for (actual, wanted) in zip(result.perItem, expected.perItem) {
            #expect(isClose(actual, wanted), "per_item \(actual) vs \(wanted)")
        }
        for (actual, wanted) in zip(result.classPerItem, expected.classLoss) {
            #expect(isClose(actual, wanted), "class_loss \(actual) vs \(wanted)")
        }
        for (actual, wanted) in zip(result.locPerItem, expected.locLoss) {
            #expect(isClose(actual, wanted), "loc_loss \(actual) vs \(wanted)")
        }
        #expect(isClose(result.positives, expected.positives))
        #expect(result.negativesAvailable == expected.negativesAvailable)
        #expect(result.negatives == expected.negatives)
        #expect(isClose(result.classification + golden.params.alpha * result.localization, result.loss))
    }

    @Test("the plain reference implementation agrees with every case", arguments: GoldenCase.names)
    func referenceAgrees(_ name: String) throws {
        let golden = try GoldenCase.load(name)
        let batch = try golden.batchValues()
        let kernel = try batch.loss(golden.params, dtype: .float64)
        #expect(agree(kernel, referenceLoss(batch, golden.params), tolerance: 1e-9))
    }
}

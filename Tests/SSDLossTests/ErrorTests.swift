import SSDLoss
import Testing

@Suite("Errors")
struct ErrorTests {
    static let shape = BatchShape(batch: 2, boxes: 10, classes: 3)

    @Test("non-finite values are counted per tensor, ignored entries are not read", arguments: ScalarType.allCases)
    func nonfiniteKeras(_ dtype: ScalarType) throws {
        var (batch, _) = KerasBatch.random(shape: Self.shape, seed: 1)
        batch.yPred[batch.index(box: 0, 1)] = .nan
        batch.yPred[batch.index(box: 19, 4)] = .nan
        batch.yPred[batch.index(box: 3, 3)] = .infinity
        batch.yTrue[batch.index(box: 7, 0)] = -.infinity
        batch.yTrue[batch.index(box: 8, 3 + 4)] = .nan  // an ignored entry
        batch.yPred[batch.index(box: 9, 3 + 11)] = .infinity  // an ignored entry
        let error = #expect(throws: LossError.self) { try batch.loss(LossParameters(), dtype: dtype) }
        guard case .nonfinite(let report) = error else {
            Issue.record("expected a non-finite error, got \(String(describing: error))")
            return
        }
        #expect(report["y_pred"] == .init(nan: 2, positiveInfinity: 1))
        #expect(report["y_true"] == .init(negativeInfinity: 1))
        #expect(report.total == 4 && report.nan == 2)
        #expect(report.description.contains("y_pred: 2 NaN, 1 +Inf"))
        #expect(error?.description.contains("4 non-finite values") == true)

        var ignoredOnly = KerasBatch.random(shape: Self.shape, seed: 1).batch
        ignoredOnly.yTrue[ignoredOnly.index(box: 8, 3 + 4)] = .nan
        #expect(throws: Never.self) { try ignoredOnly.loss(LossParameters(), dtype: dtype) }
    }

    @Test("non-finite values in an ignored box's read entries still reject the batch", arguments: ScoreKind.allCases)
    func nonfiniteIgnoredBox(_ scores: ScoreKind) throws {
        var (batch, labels) = KerasBatch.random(shape: Self.shape, seed: 2) { _ in -1 }
        batch.yPred[batch.index(box: 5, 2)] = .nan
        batch.yTrue[batch.index(box: 6, 3)] = .infinity
        #expect(throws: LossError.self) { try batch.loss(LossParameters(scores: scores)) }
        var compact = CompactBatch(batch, labels: labels)
        compact.gtOffsets[6 * 4] = 0
        let error = #expect(throws: LossError.self) { try compact.loss(LossParameters(scores: scores)) }
        guard case .nonfinite(let report) = error else {
            Issue.record("expected a non-finite error")
            return
        }
        #expect(report["scores"].nan == 1 && report["gt_offsets"].total == 0 && report.total == 1)
    }

    @Test("compact non-finite values are counted per tensor")
    func nonfiniteCompact() throws {
        let (keras, labels) = KerasBatch.random(shape: Self.shape, seed: 3)
        var batch = CompactBatch(keras, labels: labels)
        batch.gtOffsets[3] = .infinity
        batch.scores[10] = .nan
        batch.scores[11] = -.infinity
        batch.predOffsets[79] = .nan
        let error = #expect(throws: LossError.self) { try batch.loss(LossParameters(scores: .logits), dtype: .float16) }
        guard case .nonfinite(let report) = error else {
            Issue.record("expected a non-finite error")
            return
        }
        #expect(report.entries.map(\.tensor) == ["gt_offsets", "scores", "pred_offsets"])
        #expect(report["gt_offsets"] == .init(positiveInfinity: 1))
        #expect(report["scores"] == .init(nan: 1, negativeInfinity: 1))
        #expect(report["pred_offsets"] == .init(nan: 1))
    }

    @Test("labels outside -1...C-1 are rejected with the box", arguments: [Int32(-2), 3, 99, .min])
    func labelOutOfRange(_ label: Int32) throws {
        let (keras, labels) = KerasBatch.random(shape: Self.shape, seed: 4)
        var batch = CompactBatch(keras, labels: labels)
        batch.labels[13] = label
        batch.labels[17] = label
        #expect(throws: LossError.labelOutOfRange(box: 13, label: label, classes: 3)) {
            try batch.loss(LossParameters())
        }
        #expect(LossError.labelOutOfRange(box: 13, label: label, classes: 3).description.contains("box 13"))
    }

    @Test("buffers of the wrong size are rejected before anything is read")
    func sizeMismatch() throws {
        let (batch, labels) = KerasBatch.random(shape: Self.shape, seed: 5)
        let t = encode(batch.yTrue, as: .float32)
        let p = encode(batch.yPred, as: .float32)
        let expected = 2 * 10 * 15 * 4
        #expect(throws: LossError.sizeMismatch(tensor: "y_pred", expectedBytes: expected, actualBytes: expected - 4)) {
            try batch.compute(LossParameters(), dtype: .float32, yTrue: t, yPred: Array(p.dropLast(4)))
        }
        #expect(throws: LossError.sizeMismatch(tensor: "y_true", expectedBytes: expected / 2, actualBytes: expected)) {
            try batch.compute(LossParameters(), dtype: .float16, yTrue: t, yPred: p)
        }
        var compact = CompactBatch(batch, labels: labels)
        compact.labels.append(0)
        #expect(throws: LossError.sizeMismatch(tensor: "labels", expectedBytes: 80, actualBytes: 84)) {
            try compact.loss(LossParameters())
        }
        let huge = KerasBatch(shape: BatchShape(batch: Int.max / 2, boxes: 4, classes: 2), yTrue: [], yPred: [])
        let error = #expect(throws: LossError.self) {
            try huge.compute(LossParameters(), dtype: .float32, yTrue: t, yPred: p)
        }
        #expect(error == .sizeMismatch(tensor: "y_true", expectedBytes: .max, actualBytes: t.count))
        #expect(error?.description.contains("too large") == true)
    }
}

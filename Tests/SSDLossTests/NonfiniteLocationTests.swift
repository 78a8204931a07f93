import Testing

@testable import SSDLoss

/// Where a batch's NaN and ±Inf values are: the places, meanings and exact counts per kind, the
/// same on every kernel path and the scalar reference, in both layouts and every scalar type.
@Suite("Non-finite values located")
struct NonfiniteLocationTests {
    /// The vectorized paths this CPU runs, then the scalar reference pass (nil).
    static let paths: [KernelPath?] = KernelPath.allCases.filter(\.isSupported) + [nil]
    static let cases: [(ScalarType, KernelPath?)] = ScalarType.allCases.flatMap { dtype in paths.map { (dtype, $0) } }

    /// B = 3 images of N = 4001 anchors, C = 21 classes: room for image 2, anchor 4000, class 7.
    static let shape = BatchShape(batch: 3, boxes: 4001, classes: 21)

    static func keras(
        _ dtype: ScalarType, _ path: KernelPath?, _ batch: KerasBatch, scores: ScoreKind
    )
        throws(LossError) -> LossResult
    {
        let (t, p) = (encode(batch.yTrue, as: dtype), encode(batch.yPred, as: dtype))
        return try batch.compute(
            LossParameters(scores: scores), dtype: dtype, yTrue: t, yPred: p, path: path ?? .baseline,
            scalar: path == nil)
    }

    static func report(_ body: () throws(LossError) -> LossResult) -> NonfiniteReport? {
        do {
            _ = try body()
        } catch {
            if case .nonfinite(let report) = error { return report }
        }
        return nil
    }

    @Test(
        "keras: a NaN at image 2, anchor 4000, class 7 of y_pred and +Inf width at image 0, anchor 17 of y_true",
        arguments: cases)
    func kerasDoneWhen(_ dtype: ScalarType, _ path: KernelPath?) throws {
        var (batch, _) = KerasBatch.random(shape: Self.shape, seed: 17)
        let c = Self.shape.classes
        batch.yPred[batch.index(box: 2 * 4001 + 4000, 7)] = .nan
        batch.yTrue[batch.index(box: 17, c + 2)] = .infinity
        for scores in ScoreKind.allCases {
            let report = try #require(
                Self.report { () throws(LossError) in try Self.keras(dtype, path, batch, scores: scores) })
            #expect(report["y_pred"] == .init(nan: 1) && report["y_true"] == .init(positiveInfinity: 1))
            #expect(
                report.places == [
                    NonfinitePlace(
                        tensor: "y_true", image: 0, anchor: 17, column: c + 2, kind: .groundTruthOffset,
                        offsetName: "w",
                        value: .positiveInfinity),
                    NonfinitePlace(
                        tensor: "y_pred", image: 2, anchor: 4000, column: 7, kind: .classScore, classIndex: 7,
                        value: .nan),
                ])
            #expect(report.entries.map(\.kinds) == [[.groundTruthOffset: 1], [.classScore: 1]])
            let sentence = report.description
            #expect(sentence.contains("image 2, anchor 4000, column 7 (class 7 score)"))
            #expect(sentence.contains("image 0, anchor 17, column 23 (ground-truth offset w)"))
            #expect(sentence.contains("degenerate box") && sentence.contains("diverged"))
        }
    }

    @Test("compact: the same two places, in scores and gt_offsets", arguments: cases)
    func compactDoneWhen(_ dtype: ScalarType, _ path: KernelPath?) throws {
        let (keras, labels) = KerasBatch.random(shape: Self.shape, seed: 17)
        var batch = CompactBatch(keras, labels: labels)
        batch.scores[(2 * 4001 + 4000) * 21 + 7] = .nan
        batch.gtOffsets[17 * 4 + 2] = .infinity
        for scores in ScoreKind.allCases {
            let report = try #require(
                Self.report { () throws(LossError) in
                    try batch.loss(
                        LossParameters(scores: scores), dtype: dtype, path: path ?? .baseline, scalar: path == nil)
                })
            #expect(
                report.places == [
                    NonfinitePlace(
                        tensor: "gt_offsets", image: 0, anchor: 17, column: 2, kind: .groundTruthOffset,
                        offsetName: "w",
                        value: .positiveInfinity),
                    NonfinitePlace(
                        tensor: "scores", image: 2, anchor: 4000, column: 7, kind: .classScore, classIndex: 7,
                        value: .nan),
                ])
            #expect(report.entries.map(\.tensor) == ["gt_offsets", "scores", "pred_offsets"])
            #expect(report.entries.map(\.kinds) == [[.groundTruthOffset: 1], [.classScore: 1], [:]])
        }
    }

    @Test(
        "counts per kind are exact and places are the first four, whatever image the pass stops at",
        arguments: cases)
    func exactCounts(_ dtype: ScalarType, _ path: KernelPath?) throws {
        let shape = BatchShape(batch: 4, boxes: 37, classes: 6)
        let c = shape.classes
        var (batch, _) = KerasBatch.random(shape: shape, seed: 5)
        var rng = SplitMix64(seed: 99)
        // Non-finite values from image 1 on (images 0 stays finite: the pass stops at image 1),
        // in every kind of read column, and in ignored trailing entries that must not count.
        var expected: [String: [NonfiniteKind: Int]] = ["y_true": [:], "y_pred": [:]]
        var marked = Set<Int>()
        for _ in 0..<60 {
            let box = Int.random(in: shape.boxes..<shape.boxCount, using: &rng)
            let column = Int.random(in: 0..<(c + 12), using: &rng)
            let truth = Bool.random(using: &rng)
            let value: Double = [.nan, .infinity, -.infinity][Int.random(in: 0..<3, using: &rng)]
            let index = batch.index(box: box, column)
            guard marked.insert(index * 2 + (truth ? 1 : 0)).inserted else { continue }
            if truth { batch.yTrue[index] = value } else { batch.yPred[index] = value }
            guard column < c + 4 else { continue }
            let kind: NonfiniteKind =
                column < c ? (truth ? .groundTruthClass : .classScore) : (truth ? .groundTruthOffset : .predictedOffset)
            expected[truth ? "y_true" : "y_pred", default: [:]][kind, default: 0] += 1
        }
        let report = try #require(
            Self.report { () throws(LossError) in try Self.keras(dtype, path, batch, scores: .probabilities) })
        for entry in report.entries {
            #expect(entry.kinds == expected[entry.tensor], "\(entry.tensor)")
            #expect(entry.counts.total == entry.kinds.values.reduce(0, +))
            // The first places, in order: the brute-force scan of the read columns.
            let values = entry.tensor == "y_true" ? batch.yTrue : batch.yPred
            var first: [(Int, Int)] = []
            for box in 0..<shape.boxCount {
                for column in 0..<(c + 4) where !values[batch.index(box: box, column)].isFinite {
                    first.append((box, column))
                }
            }
            let places = entry.places.map { ($0.image * shape.boxes + $0.anchor, $0.column) }
            #expect(places.count == min(4, first.count))
            #expect(zip(places, first).allSatisfy { $0 == $1 })
        }
    }
}

import Foundation
import Testing

@testable import SSDLoss

/// The vectorized passes (every scalar type, both layouts) against the scalar float64
/// pass on the same carried values: class counts around the 8-lane chunk edges, ties, soft and
/// signed targets, zero positives, non-finite values in every tensor and position, bad labels,
/// unaligned buffers.
@Suite("Vectorized passes")
struct LanePassTests {
    /// Every type the vectorized passes read.
    static let laneTypes = ScalarType.allCases
    static let parameterSets: [LossParameters] = [
        .init(nNegMin: 3),
        .init(nNegMin: 3, scores: .logits),
        .init(negPosRatio: 2, nNegMin: 1, mining: .image),
        .init(negPosRatio: 2, mining: .image, scores: .logits),
    ]

    /// A batch whose values `dtype` carries exactly, with every fourth score copied from its
    /// neighbour (ties inside a box) and every fifth box a copy of the one before (ties in mining).
    static func batch(classes: Int, dtype: ScalarType, logits: Bool, seed: UInt64) -> (KerasBatch, [Int32]) {
        let shape = BatchShape(batch: 3, boxes: 37, classes: classes)
        var (batch, labels) = KerasBatch.random(shape: shape, seed: seed, logits: logits) { rng in
            let u = Double.random(in: 0..<1, using: &rng)
            return u < 0.1 ? -1 : (u < 0.75 ? 0 : Int32.random(in: 1...40, using: &rng))
        }
        let width = shape.kerasWidth
        for box in 0..<shape.boxCount {
            for k in stride(from: 3, to: classes, by: 4) {
                batch.yPred[batch.index(box: box, k)] = batch.yPred[batch.index(box: box, k - 1)]
            }
            if box % 5 == 4 {
                for j in 0..<width {
                    batch.yPred[box * width + j] = batch.yPred[(box - 1) * width + j]
                    batch.yTrue[box * width + j] = batch.yTrue[(box - 1) * width + j]
                }
                labels[box] = labels[box - 1]
            }
        }
        let carried = KerasBatch(
            shape: shape, yTrue: roundTrip(batch.yTrue, through: dtype), yPred: roundTrip(batch.yPred, through: dtype))
        return (carried, labels)
    }

    @Test("keras and compact equal the scalar float64 pass", arguments: ScalarType.allCases, [2, 5, 8, 9, 16, 21, 33])
    func equalsScalarPass(_ dtype: ScalarType, classes: Int) throws {
        for parameters in Self.parameterSets {
            let (keras, labels) = Self.batch(
                classes: classes, dtype: dtype, logits: parameters.scores == .logits, seed: UInt64(classes))
            let expected = try keras.scalarReference(parameters)
            // Probabilities differ from float64 only in the logarithm's last bit; logits in a float32
            // `exp` (float64 batches: a float64 `exp`).
            let tolerance = parameters.scores == .logits && dtype != .float64 ? 1e-6 : 1e-12
            #expect(agree(try keras.loss(parameters, dtype: dtype), expected, tolerance: tolerance))
            let compact = CompactBatch(keras, labels: labels)
            #expect(agree(try compact.loss(parameters, dtype: dtype), expected, tolerance: tolerance))
            #expect(agree(expected, referenceLoss(keras, parameters), tolerance: 1e-9))
        }
    }

    @Test("soft, signed and −0 targets take the exact path", arguments: laneTypes)
    func softTargets(_ dtype: ScalarType) throws {
        var (batch, _) = Self.batch(classes: 11, dtype: dtype, logits: false, seed: 5)
        var rng = SplitMix64(seed: 17)
        for box in 0..<batch.shape.boxCount where box % 3 != 0 {
            for k in 0..<11 {
                let u = Double.random(in: 0..<1, using: &rng)
                batch.yTrue[batch.index(box: box, k)] =
                    u < 0.3 ? -0.0 : (u < 0.6 ? 0 : Double.random(in: -0.5...1, using: &rng))
            }
        }
        batch = KerasBatch(shape: batch.shape, yTrue: roundTrip(batch.yTrue, through: dtype), yPred: batch.yPred)
        for scores in ScoreKind.allCases {
            let parameters = LossParameters(nNegMin: 2, scores: scores)
            let tolerance = scores == .logits ? 1e-6 : 1e-12
            #expect(
                agree(
                    try batch.loss(parameters, dtype: dtype), try batch.scalarReference(parameters),
                    tolerance: tolerance))
        }
    }

    @Test("zero positives", arguments: laneTypes)
    func zeroPositives(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 2, boxes: 45, classes: 9)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 23) { rng in Int32.random(in: -1...0, using: &rng) }
        for parameters in [LossParameters(), LossParameters(nNegMin: 7, scores: .logits)] {
            let expected = try batch.scalarReference(parameters)
            let carried = KerasBatch(
                shape: shape, yTrue: roundTrip(batch.yTrue, through: dtype),
                yPred: roundTrip(batch.yPred, through: dtype))
            let keras = try carried.loss(parameters, dtype: dtype)
            let compact = try CompactBatch(carried, labels: labels).loss(parameters, dtype: dtype)
            #expect(keras.positives == 0 && compact.positives == 0)
            #expect(keras.negatives == min(parameters.nNegMin, expected.negativesAvailable))
            #expect(agree(keras, compact, tolerance: 1e-6))
        }
    }

    @Test("runs of negatives, some with a zero loss, are counted as the scalar pass counts them", arguments: laneTypes)
    func negativeRuns(_ dtype: ScalarType) throws {
        // Long runs of background boxes (the passes take eight at a time), every seventh one
        // predicted with certainty (probability 1, or a logit 60 above the others): a zero loss.
        let shape = BatchShape(batch: 2, boxes: 203, classes: 6)
        for logits in [false, true] {
            var (batch, labels) = KerasBatch.random(shape: shape, seed: 41, logits: logits) { rng in
                Double.random(in: 0..<1, using: &rng) < 0.03 ? 2 : 0
            }
            for box in 0..<shape.boxCount where box % 7 == 3 && labels[box] == 0 {
                for k in 0..<shape.classes {
                    batch.yPred[batch.index(box: box, k)] = logits ? (k == 0 ? 60 : 0) : (k == 0 ? 1 : 0)
                }
            }
            let carried = KerasBatch(
                shape: shape, yTrue: roundTrip(batch.yTrue, through: dtype),
                yPred: roundTrip(batch.yPred, through: dtype))
            for parameters in [
                LossParameters(nNegMin: 50, scores: logits ? .logits : .probabilities),
                LossParameters(nNegMin: 500, mining: .image, scores: logits ? .logits : .probabilities),
            ] {
                let expected = try carried.scalarReference(parameters)
                #expect(expected.negativesAvailable < shape.boxCount - shape.boxCount / 8)
                let tolerance = logits && dtype != .float64 ? 1e-6 : 1e-12
                #expect(agree(try carried.loss(parameters, dtype: dtype), expected, tolerance: tolerance))
                #expect(
                    agree(
                        try CompactBatch(carried, labels: labels).loss(parameters, dtype: dtype), expected,
                        tolerance: tolerance))
            }
        }
    }

    @Test("compact non-finite values are counted in every tensor, the last box included", arguments: laneTypes)
    func compactNonfinite(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 1, boxes: 13, classes: 21)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 4)
        var compact = CompactBatch(batch, labels: labels)
        let last = shape.boxCount - 1
        compact.scores[last * 21 + 20] = .nan  // the very last score, read through the tail copy
        compact.scores[5 * 21 + 8] = .infinity
        compact.gtOffsets[last * 4 + 3] = -.infinity  // beyond the last whole 8-lane chunk
        compact.predOffsets[2] = .nan
        compact.predOffsets[17] = .infinity
        for parameters in [LossParameters(), LossParameters(scores: .logits)] {
            let error = #expect(throws: LossError.self) { try compact.loss(parameters, dtype: dtype) }
            guard case .nonfinite(let report) = error else {
                Issue.record("expected a non-finite error, got \(String(describing: error))")
                return
            }
            #expect(report["scores"] == .init(nan: 1, positiveInfinity: 1))
            #expect(report["gt_offsets"] == .init(negativeInfinity: 1))
            #expect(report["pred_offsets"] == .init(nan: 1, positiveInfinity: 1))
        }
    }

    @Test("keras non-finite values in any read lane are found, ignored lanes are not", arguments: laneTypes)
    func kerasNonfinite(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 1, boxes: 6, classes: 9)
        let (clean, _) = KerasBatch.random(shape: shape, seed: 8)
        var ignored = clean
        for box in 0..<6 { ignored.yPred[ignored.index(box: box, 9 + 4 + box)] = .nan }
        ignored.yTrue[ignored.index(box: 5, 9 + 11)] = .infinity
        #expect(throws: Never.self) { try ignored.loss(LossParameters(), dtype: dtype) }
        for (tensor, position) in [("y_pred", 0), ("y_pred", 8), ("y_pred", 12), ("y_true", 9), ("y_true", 3)] {
            for scores in ScoreKind.allCases {
                var batch = clean
                if tensor == "y_pred" {
                    batch.yPred[batch.index(box: 4, position)] = -.infinity
                } else {
                    batch.yTrue[batch.index(box: 4, position)] = -.infinity
                }
                let error = #expect(throws: LossError.self) {
                    try batch.loss(LossParameters(scores: scores), dtype: dtype)
                }
                guard case .nonfinite(let report) = error else {
                    Issue.record("expected a non-finite error, got \(String(describing: error))")
                    continue
                }
                #expect(report[tensor] == .init(negativeInfinity: 1) && report.total == 1)
            }
        }
    }

    @Test("compact labels out of range name the first bad box", arguments: laneTypes)
    func labelOutOfRange(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 2, boxes: 9, classes: 4)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 6)
        for bad: Int32 in [4, -2, .max, .min] {
            var compact = CompactBatch(batch, labels: labels)
            compact.labels[11] = bad
            compact.labels[15] = 9
            #expect(throws: LossError.labelOutOfRange(box: 11, label: bad, classes: 4)) {
                try compact.loss(LossParameters(), dtype: dtype)
            }
        }
    }

    @Test("compact buffers at odd addresses give the same result", arguments: laneTypes)
    func unalignedCompact(_ dtype: ScalarType) throws {
        let shape = BatchShape(batch: 2, boxes: 21, classes: 7)
        let (batch, labels) = KerasBatch.random(shape: shape, seed: 12)
        let compact = CompactBatch(batch, labels: labels)
        let aligned = try compact.loss(LossParameters(), dtype: dtype)
        let tensors = [
            labels.flatMap { label in withUnsafeBytes(of: label.littleEndian) { Array($0) } },
            encode(compact.gtOffsets, as: dtype), encode(compact.scores, as: dtype),
            encode(compact.predOffsets, as: dtype),
        ]
        let shifted = tensors.enumerated().map { [UInt8](repeating: 0, count: 1 + $0.offset) + $0.element }
        let result: Result<LossResult, LossError> = shifted[0].withUnsafeBytes { l in
            shifted[1].withUnsafeBytes { g in
                shifted[2].withUnsafeBytes { s in
                    shifted[3].withUnsafeBytes { q in
                        Result { () throws(LossError) -> LossResult in
                            try MultiBoxLoss().compute(
                                .compact(
                                    labels: .init(rebasing: l[1...]), gtOffsets: .init(rebasing: g[2...]),
                                    scores: .init(rebasing: s[3...]), predOffsets: .init(rebasing: q[4...])),
                                shape: shape, dtype: dtype)
                        }
                    }
                }
            }
        }
        #expect(try result.get() == aligned)
    }

    @Test(
        "the miner selects inside any sub-range, sampled or not",
        arguments: [(0, 300), (57, 300), (1000, 9000), (3, 20000)])
    func minerSubrange(_ start: Int, count: Int) {
        var rng = SplitMix64(seed: UInt64(start + count))
        let total = start + count
        let pool: [Double] = [0.5, 0.5.nextUp, 2, 3, -1]
        let values = (0..<total).map { _ in
            Double.random(in: 0..<1, using: &rng) < 0.2
                ? pool.randomElement(using: &rng) ?? 1 : Double.random(in: 0..<4, using: &rng)
        }
        let workspace = LossWorkspace()
        workspace.reserve(boxes: total)
        for (i, value) in values.enumerated() {
            workspace.negativeLosses[i] = value
            workspace.classLosses[i] = Double(i % 97) + 0.25
        }
        let order = (start..<total).sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        for k in [1, 5, count / 100, count / 10, count / 2, count - 1, count] where k > 0 {
            let expected = order.prefix(k).reduce(0.0) { $0 + Double($1 % 97) + 0.25 }
            let actual = HardNegativeMiner.keptClassLoss(workspace, entries: start..<total, k: k)
            #expect(isClose(actual, expected, tolerance: 1e-12), "k = \(k)")
        }
    }

    @Test("when the sample misleads (equal losses), the miner selects over every entry", arguments: [0, 5])
    func minerSampleFallback(_ start: Int) {
        let count = 12_000
        let workspace = LossWorkspace()
        workspace.reserve(boxes: start + count)
        for i in 0..<(start + count) {
            workspace.negativeLosses[i] = i % 1000 == 999 ? 2 : 1
            workspace.classLosses[i] = Double(i)
        }
        // 12 losses of 2, then ties to the lowest index among the 1s.
        let k = 40
        let twos = (start..<(start + count)).filter { $0 % 1000 == 999 }
        let ones = (start..<(start + count)).filter { $0 % 1000 != 999 }.prefix(k - twos.count)
        let expected = (twos + ones).reduce(0.0) { $0 + Double($1) }
        #expect(HardNegativeMiner.keptClassLoss(workspace, entries: start..<(start + count), k: k) == expected)
        let perImage = HardNegativeMiner.keptClassLossPerImage(
            workspace, segmentEnds: [start + 4000, start + count], k: k)
        #expect(start > 0 || perImage.reduce(0, +) == expected)
    }
}

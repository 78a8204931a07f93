import SSDLoss
import Testing

@Suite("Layouts and scalar types")
struct LayoutAndDtypeTests {
    static let parameterSets: [LossParameters] = [
        .init(),
        .init(scores: .logits),
        .init(negPosRatio: 2, nNegMin: 7, alpha: 0.5, mining: .image),
        .init(mining: .image, scores: .logits),
    ]

    @Test("compact equals keras on the one-hot equivalent", arguments: parameterSets, ScalarType.allCases)
    func compactEqualsKeras(_ parameters: LossParameters, dtype: ScalarType) throws {
        let shape = BatchShape(batch: 3, boxes: 40, classes: 5)
        let (keras, labels) = KerasBatch.random(shape: shape, seed: 7, logits: parameters.scores == .logits)
        let compact = CompactBatch(keras, labels: labels)
        let expected = try keras.loss(parameters, dtype: dtype)
        let actual = try compact.loss(parameters, dtype: dtype)
        // keras float32 has its own vectorized pass, whose float32 `exp` differs in the last bits.
        #expect(agree(actual, expected, tolerance: 1e-7))
        #expect(expected.negatives > 0 && expected.positives > 0)
    }

    @Test(
        "every dtype reads the values it carries",
        arguments: ["basic", "logits", "image-mining", "soft-labels", "smooth-l1-edges"],
        [ScalarType.float16, .bfloat16, .float64, .float32])
    func everyDtype(_ name: String, dtype: ScalarType) throws {
        let golden = try GoldenCase.load(name)
        let batch = try golden.batchValues()
        let carried = KerasBatch(
            shape: batch.shape, yTrue: roundTrip(batch.yTrue, through: dtype),
            yPred: roundTrip(batch.yPred, through: dtype))
        let actual = try batch.loss(golden.params, dtype: dtype)
        let expected = try carried.loss(golden.params, dtype: .float64)
        // Counts exact; values to 1e-7 (the float32 logits pass computes `exp` in float32).
        #expect(agree(actual, expected, tolerance: 1e-7))
        #expect(agree(expected, referenceLoss(carried, golden.params), tolerance: 1e-9))
    }

    @Test("the vectorized float32 pass counts the same negatives as float64", arguments: [4.0, 20.0, 40.0, 400.0])
    func float32PassCounts(_ scale: Double) throws {
        let shape = BatchShape(batch: 2, boxes: 300, classes: 21)
        for scores in ScoreKind.allCases {
            var (batch, _) = KerasBatch.random(
                shape: shape, seed: UInt64(scale), logits: scores == .logits, logitScale: scale
            ) { rng in
                Int32.random(in: -1...20, using: &rng)
            }
            batch = KerasBatch(
                shape: shape, yTrue: roundTrip(batch.yTrue, through: .float32),
                yPred: roundTrip(batch.yPred, through: .float32))
            for mining in MiningMode.allCases {
                let parameters = LossParameters(nNegMin: 5, mining: mining, scores: scores)
                let vectorized = try batch.loss(parameters, dtype: .float32)
                #expect(agree(vectorized, try batch.loss(parameters, dtype: .float64), tolerance: 1e-6))
                #expect(agree(vectorized, referenceLoss(batch, parameters), tolerance: 1e-6))
            }
        }
    }

    @Test("soft and signed targets give the same pos and loss on every path", arguments: [2, 3, 9, 21])
    func softTargets(_ classes: Int) throws {
        let shape = BatchShape(batch: 2, boxes: 64, classes: classes)
        var (batch, _) = KerasBatch.random(shape: shape, seed: UInt64(classes))
        var rng = SplitMix64(seed: 99)
        for box in 0..<shape.boxCount {
            for k in 0..<classes {
                let u = Double.random(in: 0..<1, using: &rng)
                batch.yTrue[batch.index(box: box, k)] = u < 0.4 ? 0 : Double.random(in: -0.5...1, using: &rng)
            }
        }
        batch = KerasBatch(
            shape: shape, yTrue: roundTrip(batch.yTrue, through: .float32),
            yPred: roundTrip(batch.yPred, through: .float32))
        for scores in ScoreKind.allCases {
            let parameters = LossParameters(nNegMin: 3, scores: scores)
            let reference = referenceLoss(batch, parameters)
            #expect(agree(try batch.loss(parameters, dtype: .float32), reference, tolerance: 1e-6))
            #expect(agree(try batch.loss(parameters, dtype: .float64), reference, tolerance: 1e-9))
        }
    }

    @Test("unaligned buffers read the same values", arguments: ScalarType.allCases)
    func unaligned(_ dtype: ScalarType) throws {
        let golden = try GoldenCase.load("basic")
        let batch = try golden.batchValues()
        let t = encode(batch.yTrue, as: dtype)
        let p = encode(batch.yPred, as: dtype)
        let aligned = try batch.compute(golden.params, dtype: dtype, yTrue: t, yPred: p)
        let shifted: Result<LossResult, LossError> = ([0] + t).withUnsafeBytes { tb in
            ([0, 0, 0] + p).withUnsafeBytes { pb in
                Result { () throws(LossError) -> LossResult in
                    try MultiBoxLoss(parameters: golden.params).compute(
                        .keras(
                            yTrue: UnsafeRawBufferPointer(rebasing: tb[1...]),
                            yPred: UnsafeRawBufferPointer(rebasing: pb[3...])),
                        shape: batch.shape, dtype: dtype)
                }
            }
        }
        #expect(try shifted.get() == aligned)
    }

    @Test("random batches agree with the plain reference", arguments: 0..<8)
    func randomAgainstReference(_ seed: Int) throws {
        let shape = BatchShape(batch: 1 + seed % 3, boxes: 30 + seed * 7, classes: 2 + seed % 4)
        let logits = seed % 2 == 1
        let (batch, _) = KerasBatch.random(shape: shape, seed: UInt64(seed), logits: logits)
        for mining in MiningMode.allCases {
            let parameters = LossParameters(
                negPosRatio: seed % 4, nNegMin: seed, alpha: 0.25 * Double(seed), mining: mining,
                scores: logits ? .logits : .probabilities)
            #expect(agree(try batch.loss(parameters), referenceLoss(batch, parameters), tolerance: 1e-9))
        }
    }

    @Test("a reused workspace gives the same results as a fresh one")
    func workspaceReuse() throws {
        let workspace = LossWorkspace()
        for (seed, boxes) in [(1, 200), (2, 20), (3, 500), (4, 20)] {
            let shape = BatchShape(batch: 2, boxes: boxes, classes: 4)
            let (batch, _) = KerasBatch.random(shape: shape, seed: UInt64(seed))
            let parameters = LossParameters(nNegMin: 3)
            #expect(try batch.loss(parameters, workspace: workspace) == batch.loss(parameters))
        }
    }
}

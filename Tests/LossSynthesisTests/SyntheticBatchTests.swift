import LossWire
import SSDLoss
import Testing

@testable import LossSynthesis

@Suite("Synthetic batches")
struct SyntheticBatchTests {
    private func loss(_ spec: SyntheticBatchSpec, step: Int) throws -> LossResult {
        let message = SyntheticBatchGenerator(spec: spec).message(step: step)
        let batch = try BatchDecoder.decode(message, defaults: LossParameters(scores: spec.scores))
        return try batch.withInput {
            try MultiBoxLoss(parameters: batch.parameters).compute($0, shape: batch.shape, dtype: batch.dtype)
        }
    }

    private let shape = BatchShape(batch: 4, boxes: 500, classes: 7)

    @Test("the same seed and step give the same bytes; another seed does not")
    func deterministic() throws {
        let spec = SyntheticBatchSpec(shape: shape, seed: 7)
        let first = SyntheticBatchGenerator(spec: spec).frames(step: 3)
        #expect(first == SyntheticBatchGenerator(spec: spec).frames(step: 3))
        var other = spec
        other.seed = 8
        let second = SyntheticBatchGenerator(spec: other).frames(step: 3)
        #expect(first != second)
        // Not a shifted copy of one stream either: almost every score differs.
        let differing = zip(first[2], second[2]).filter { $0 != $1 }.count
        #expect(differing > first[2].count / 2)
        #expect(try loss(spec, step: 3).loss != loss(other, step: 3).loss)
    }

    @Test("frames have the sizes the header promises", arguments: Layout.allCases, ScalarType.allCases)
    func sizes(layout: Layout, dtype: ScalarType) throws {
        let spec = SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype)
        let message = SyntheticBatchGenerator(spec: spec).message(step: 0)
        #expect(message.totalBytes - message.frames[0].count == spec.tensorBytes)
        _ = try BatchDecoder.decode(message, defaults: LossParameters())
    }

    @Test("the loss falls as the step grows", arguments: ScoreKind.allCases)
    func lossFalls(scores: ScoreKind) throws {
        let spec = SyntheticBatchSpec(shape: shape, scores: scores, positiveFraction: 0.03)
        let losses = try [0, 200, 800].map { try loss(spec, step: $0).loss }
        #expect(losses[0] > losses[1])
        #expect(losses[1] > losses[2])
    }

    @Test("keras and compact batches from one seed carry the same loss")
    func layoutsAgree() throws {
        let keras = SyntheticBatchSpec(shape: shape, layout: .keras, positiveFraction: 0.03)
        var compact = keras
        compact.layout = .compact
        let a = try loss(keras, step: 50), b = try loss(compact, step: 50)
        #expect(a.negatives == b.negatives)
        #expect(a.positives == b.positives)
        #expect(abs(a.loss - b.loss) <= 1e-9 * a.loss)
    }

    @Test("bfloat16 rounding is to nearest, ties to even")
    func bfloat16Rounding() {
        #expect(ScalarEncoder.bfloat16Bits(1.0) == 0x3F80)
        #expect(ScalarEncoder.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(ScalarEncoder.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(ScalarEncoder.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(ScalarEncoder.bfloat16Bits(.nan) & 0x7FC0 == 0x7FC0)
    }
}

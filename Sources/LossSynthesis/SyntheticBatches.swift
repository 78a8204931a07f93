import Foundation
public import LossWire
public import SSDLoss

/// What synthetic SSD batches look like.
public struct SyntheticBatchSpec: Sendable, Hashable {
    /// B, N and C.
    public var shape: BatchShape
    /// The tensor layout of the messages.
    public var layout: Layout
    /// The scalar type of the floating-point tensors.
    public var dtype: ScalarType
    /// Whether the predicted class entries are probabilities or logits.
    public var scores: ScoreKind
    /// The expected fraction of boxes matched to an object (SSD300 on VOC: about 0.5 %).
    public var positiveFraction: Double
    /// The expected fraction of boxes marked ignored (neither positive nor negative).
    public var ignoredFraction: Double
    /// The seed: the same seed and step give the same bytes.
    public var seed: UInt64
    /// The `run` label written into every header.
    public var run: String
    /// The `split` label written into every header.
    public var split: String
    /// The `source` label written into every header.
    public var source: String
    /// The step at which predictions are halfway from poor to good; the loss falls with step.
    public var halfLifeSteps: Double

    /// Creates a spec; the defaults are an SSD300-like VOC batch of 8 images.
    public init(
        shape: BatchShape = BatchShape(batch: 8, boxes: 8732, classes: 21),
        layout: Layout = .keras,
        dtype: ScalarType = .float32,
        scores: ScoreKind = .probabilities,
        positiveFraction: Double = 0.005,
        ignoredFraction: Double = 0.01,
        seed: UInt64 = 1,
        run: String = "synthetic",
        split: String = "train",
        source: String = "",
        halfLifeSteps: Double = 200
    ) {
        self.shape = shape
        self.layout = layout
        self.dtype = dtype
        self.scores = scores
        self.positiveFraction = positiveFraction
        self.ignoredFraction = ignoredFraction
        self.seed = seed
        self.run = run
        self.split = split
        self.source = source
        self.halfLifeSteps = halfLifeSteps
    }

    /// The bytes of one message's tensors (frames 1…), without the header.
    public var tensorBytes: Int {
        layout.tensors(shape: shape, dtype: dtype).reduce(0) { $0 + ($1.byteCount ?? 0) }
    }
}

/// Makes realistic synthetic SSD batches whose predictions improve with the step.
///
/// Each box is ignored, background or matched to a uniformly drawn object class with the spec's
/// fractions. Predicted class scores put a margin on the true class that grows with the step
/// (`skill = 1 - 0.9 · 2^(-step / halfLife)`), and predicted offsets approach the ground truth,
/// so the loss of successive steps falls the way a training run's does. Generation is
/// deterministic in (seed, step).
public struct SyntheticBatchGenerator: Sendable {
    /// The spec every batch follows.
    public let spec: SyntheticBatchSpec

    /// Creates a generator.
    public init(spec: SyntheticBatchSpec) {
        self.spec = spec
    }

    /// The eight trailing keras entries: an anchor box (cx, cy, w, h) and its variances.
    private static let anchor: [Double] = [0.5, 0.5, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2]

    /// How good the predictions are at `step`, from 0.1 (poor) towards 1 (perfect).
    public func skill(atStep step: Int) -> Double {
        1 - 0.9 * exp2(-Double(max(0, step)) / max(1, spec.halfLifeSteps))
    }

    /// The header of the batch at `step`.
    public func header(step: Int, epoch: Int? = nil, seq: Int? = nil) -> BatchHeader {
        var header = BatchHeader(shape: spec.shape)
        header.dtype = spec.dtype
        header.layout = spec.layout
        header.scores = spec.scores
        header.run = spec.run
        header.split = spec.split
        header.source = spec.source
        header.step = step
        header.epoch = epoch
        header.seq = seq
        return header
    }

    /// The frames of the batch at `step`: the header, then the tensors of the spec's layout.
    public func frames(step: Int, epoch: Int? = nil, seq: Int? = nil) -> [[UInt8]] {
        let tensors = tensorFrames(step: step)
        return [header(step: step, epoch: epoch, seq: seq).jsonBytes()] + tensors
    }

    /// The batch at `step` as a message that owns its bytes.
    public func message(step: Int, epoch: Int? = nil, seq: Int? = nil, receiveTimeNs: UInt64 = 0) -> WireMessage {
        WireMessage(copying: frames(step: step, epoch: epoch, seq: seq), receiveTimeNs: receiveTimeNs)
    }

    /// The tensor frames of the batch at `step`.
    public func tensorFrames(step: Int) -> [[UInt8]] {
        let shape = spec.shape
        let classes = shape.classes
        let boxes = shape.boxCount
        let width = spec.dtype.byteWidth
        let encoder = ScalarEncoder(type: spec.dtype)
        let skill = skill(atStep: step)
        let margin = 1.0 + 7.0 * skill
        let offsetNoise = 0.05 + 1.5 * (1 - skill)
        var random = SplitMix64(keys: spec.seed, UInt64(truncatingIfNeeded: step))
        var logits = [Double](repeating: 0, count: classes)

        let isKeras = spec.layout == .keras
        let rowWidth = isKeras ? shape.kerasWidth : classes
        var truth = [UInt8](repeating: 0, count: isKeras ? boxes * rowWidth * width : boxes * 4)
        var prediction = [UInt8](repeating: 0, count: boxes * rowWidth * width)
        var gtOffsets = [UInt8](repeating: 0, count: isKeras ? 0 : boxes * 4 * width)
        var predOffsets = [UInt8](repeating: 0, count: isKeras ? 0 : boxes * 4 * width)

        truth.withUnsafeMutableBytes { truthBytes in
            prediction.withUnsafeMutableBytes { predBytes in
                gtOffsets.withUnsafeMutableBytes { gtBytes in
                    predOffsets.withUnsafeMutableBytes { predOffsetBytes in
                        for box in 0..<boxes {
                            let draw = random.unit()
                            let label: Int32 =
                                draw < spec.ignoredFraction
                                ? -1
                                : draw < spec.ignoredFraction + spec.positiveFraction
                                    ? Int32(1 + Int(random.next() % UInt64(classes - 1)))
                                    : 0
                            let row = box * rowWidth
                            // Ground truth.
                            if isKeras {
                                if label >= 0 { encoder.store(1, at: row + Int(label), in: truthBytes) }
                            } else {
                                truthBytes.storeBytes(of: label.littleEndian, toByteOffset: box * 4, as: Int32.self)
                            }
                            // Scores: noise plus a margin on the true class that grows with skill.
                            let target = label >= 0 ? Int(label) : Int(random.next() % UInt64(classes))
                            var maximum = -Double.infinity
                            for k in 0..<classes {
                                var value = random.normal()
                                if k == target { value += margin }
                                logits[k] = value
                                maximum = Swift.max(maximum, value)
                            }
                            if spec.scores == .probabilities {
                                var total = 0.0
                                for k in 0..<classes {
                                    logits[k] = Foundation.exp(logits[k] - maximum)
                                    total += logits[k]
                                }
                                for k in 0..<classes { logits[k] /= total }
                            }
                            for k in 0..<classes { encoder.store(logits[k], at: row + k, in: predBytes) }
                            // Offsets: ground truth near zero, predictions approaching it.
                            for j in 0..<4 {
                                let gt = random.normal() * 0.8
                                let predicted = gt + random.normal() * offsetNoise
                                if isKeras {
                                    encoder.store(gt, at: row + classes + j, in: truthBytes)
                                    encoder.store(predicted, at: row + classes + j, in: predBytes)
                                } else {
                                    encoder.store(gt, at: box * 4 + j, in: gtBytes)
                                    encoder.store(predicted, at: box * 4 + j, in: predOffsetBytes)
                                }
                            }
                            // The eight entries the loss ignores: an anchor box and its variances.
                            if isKeras {
                                for (j, value) in Self.anchor.enumerated() {
                                    encoder.store(value, at: row + classes + 4 + j, in: truthBytes)
                                    encoder.store(value, at: row + classes + 4 + j, in: predBytes)
                                }
                            }
                        }
                    }
                }
            }
        }
        return isKeras ? [truth, prediction] : [truth, gtOffsets, prediction, predOffsets]
    }
}

/// One image's boxes read again, box by box, for the rare mining decisions that need more than
/// the streaming pass keeps: which boxes are positive, negative or ignored, and each one's `cl`.
///
/// The streaming pass keeps only the negatives with a non-zero loss; a profile that may take
/// every negative and then positives (torchvision, when `k` exceeds an image's negatives) reads
/// that image once more here with the scalar code of ``ClassScoring``. It runs only for such
/// images, so the common batch never pays for it.
struct ImageBoxes {
    /// Per box that is not ignored, in box order: whether it is positive, and its `cl`.
    var boxes: [(positive: Bool, cl: Double)] = []
    /// The image's negatives (boxes that are neither positive nor ignored).
    var negatives = 0

    /// Reads image `image` of `input`.
    init(_ input: LossInput, shape: BatchShape, dtype: ScalarType, scores: ScoreKind, image: Int) {
        switch (dtype, scores) {
        case (.float32, .probabilities): read(input, Float32Reader.self, ProbabilityScoring.self, shape, image)
        case (.float32, .logits): read(input, Float32Reader.self, LogitScoring.self, shape, image)
        case (.float16, .probabilities): read(input, Float16Reader.self, ProbabilityScoring.self, shape, image)
        case (.float16, .logits): read(input, Float16Reader.self, LogitScoring.self, shape, image)
        case (.bfloat16, .probabilities): read(input, BFloat16Reader.self, ProbabilityScoring.self, shape, image)
        case (.bfloat16, .logits): read(input, BFloat16Reader.self, LogitScoring.self, shape, image)
        case (.float64, .probabilities): read(input, Float64Reader.self, ProbabilityScoring.self, shape, image)
        case (.float64, .logits): read(input, Float64Reader.self, LogitScoring.self, shape, image)
        }
    }

    private mutating func read<R: ScalarReader, S: ClassScoring>(
        _ input: LossInput, _ reader: R.Type, _ scoring: S.Type, _ shape: BatchShape, _ image: Int
    ) {
        boxes.reserveCapacity(shape.boxes)
        var marks: UInt64 = 0
        switch input {
        case .keras(let yTrue, let yPred):
            guard let t = yTrue.baseAddress, let p = yPred.baseAddress else { return }
            for n in 0..<shape.boxes {
                let row = (image &* shape.boxes &+ n) &* shape.kerasWidth
                let (cl, neg, pos) = S.kerasClassLoss(
                    reader, yTrue: t, yPred: p, row: row, classes: shape.classes, marks: &marks)
                if pos > 0 {
                    boxes.append((true, cl))
                } else if neg != 0 {
                    boxes.append((false, cl))
                    negatives += 1
                }
            }
        case .compact(let labels, _, let scores, _):
            guard let l = labels.baseAddress, let s = scores.baseAddress else { return }
            for n in 0..<shape.boxes {
                let box = image &* shape.boxes &+ n
                let label = Int(Int32(littleEndian: l.loadUnaligned(fromByteOffset: box &* 4, as: Int32.self)))
                guard label >= 0 else { continue }
                let cl = S.compactClassLoss(
                    reader, scores: s, row: box &* shape.classes, classes: shape.classes, label: label, marks: &marks)
                boxes.append((label > 0, cl))
                if label == 0 { negatives += 1 }
            }
        }
    }
}

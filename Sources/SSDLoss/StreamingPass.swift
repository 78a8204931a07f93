/// Per-image sums from one streaming pass; the negatives themselves go to the workspace.
struct BatchSums {
    /// `n_pos` of each image.
    var positives: [Double]
    /// `sum_n cl * pos` of each image.
    var classPositive: [Double]
    /// `loc_b = sum_n ll * pos` of each image.
    var localization: [Double]
    /// Image b's negatives with a non-zero loss are workspace entries `segmentEnds[b-1]..<segmentEnds[b]`
    /// (from 0 for b = 0), in flat-index order.
    var segmentEnds: [Int]
    /// Where image b's entries for the miner end, when they are fewer than its non-zero negatives
    /// (the compact logits hand-off keeps only those that mining can reach); nil when they are
    /// ``segmentEnds``.
    var minedEntryEnds: [Int]?
    /// Image b's entries for the miner are workspace entries `entryEnds[b-1]..<entryEnds[b]`;
    /// ``segmentEnds`` still counts its non-zero negatives.
    var entryEnds: [Int] { minedEntryEnds ?? segmentEnds }
    /// Whether any value read was NaN or ±Inf; the sums are then meaningless.
    var sawNonfinite: Bool
    /// How many entries hold a lower bound rather than the exact loss (logits: see
    /// ``LogitEstimate``); they must be refined before mining.
    var estimated = 0
    /// The image at whose end the pass first saw a non-finite value (it stopped there), or nil.
    var nonfiniteImage: Int?
    /// Per class, the positive weight of the boxes of that class (see ``BatchDiagnostics``);
    /// empty when the pass was not asked for diagnostics.
    var classPositives: [Double]
    /// Per class, `Σ cl · pos` of the same boxes.
    var classClassification: [Double]

    /// Zero sums for `images` images; with `classes` > 0, room for per-class diagnostics.
    init(images: Int, classes: Int = 0) {
        positives = Array(repeating: 0, count: images)
        classPositive = Array(repeating: 0, count: images)
        localization = Array(repeating: 0, count: images)
        segmentEnds = Array(repeating: 0, count: images)
        sawNonfinite = false
        classPositives = Array(repeating: 0, count: classes)
        classClassification = Array(repeating: 0, count: classes)
    }

    /// Adds a positive of class `label` with weight `pos` and classification share `share`, when
    /// the sums hold per-class diagnostics.
    @inline(__always)
    mutating func notePositive(label: Int, pos: Double, share: Double) {
        guard !classPositives.isEmpty else { return }
        classPositives[label] += pos
        classClassification[label] += share
    }
}

/// The single pass over a batch's bytes: per-box `cl`, `ll`, `neg`, `pos`, summed per image, and
/// the non-zero negative losses written in flat-index order for the miner.
///
/// Generic over the scalar reader and the score kind so that each combination is one specialized
/// loop; nothing of the inputs is copied.
enum StreamingPass {
    /// The `keras` layout: `y_true`, `y_pred`, each `[B, N, C + 12]`.
    static func keras<R: ScalarReader, S: ClassScoring>(
        _ reader: R.Type, _ scoring: S.Type,
        yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer,
        shape: BatchShape, workspace: LossWorkspace, diagnostics: Bool
    ) -> BatchSums {
        let classes = shape.classes
        let width = shape.kerasWidth
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var sums = BatchSums(images: shape.batch, classes: diagnostics ? classes : 0)
        var count = 0
        var marks: UInt64 = 0
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            for n in 0..<shape.boxes {
                let row = (b &* shape.boxes &+ n) &* width
                let (cl, neg, pos) = S.kerasClassLoss(
                    reader, yTrue: yTrue, yPred: yPred, row: row, classes: classes, marks: &marks)
                let ll = localizationLoss(
                    reader, truth: yTrue, truthRow: row &+ classes,
                    prediction: yPred, predictionRow: row &+ classes, marks: &marks)
                if pos != 0 {
                    positives += pos
                    classPositive += cl * pos
                    localization += ll * pos
                    if diagnostics {
                        sums.notePositive(
                            label: positiveClass(reader, yTrue: yTrue, row: row, classes: classes), pos: pos,
                            share: cl * pos)
                    }
                }
                if neg != 0 {
                    let nl = cl * neg
                    if nl != 0 {
                        negativeLosses[count] = nl
                        classLosses[count] = cl
                        count &+= 1
                    }
                }
            }
            sums.positives[b] = positives
            sums.classPositive[b] = classPositive
            sums.localization[b] = localization
            sums.segmentEnds[b] = count
            if sawNonfinite(marks) {
                sums.nonfiniteImage = b
                break
            }
        }
        sums.sawNonfinite = sawNonfinite(marks)
        return sums
    }

    /// The `compact` layout: `labels` int32 `[B, N]`, `gt_offsets [B, N, 4]`, `scores [B, N, C]`,
    /// `pred_offsets [B, N, 4]`; the loss of the equivalent one-hot keras input.
    ///
    /// Throws ``LossError/labelOutOfRange(box:label:classes:)`` at the first label outside −1…C−1.
    static func compact<R: ScalarReader, S: ClassScoring>(
        _ reader: R.Type, _ scoring: S.Type,
        labels: UnsafeRawPointer, gtOffsets: UnsafeRawPointer,
        scores: UnsafeRawPointer, predOffsets: UnsafeRawPointer,
        shape: BatchShape, workspace: LossWorkspace, diagnostics: Bool
    ) throws(LossError) -> BatchSums {
        let classes = shape.classes
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var sums = BatchSums(images: shape.batch, classes: diagnostics ? classes : 0)
        var count = 0
        var marks: UInt64 = 0
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            for n in 0..<shape.boxes {
                let box = b &* shape.boxes &+ n
                let label = Int32(littleEndian: labels.loadUnaligned(fromByteOffset: box &* 4, as: Int32.self))
                guard label >= -1, Int(label) < classes else {
                    throw .labelOutOfRange(box: box, label: label, classes: classes)
                }
                let cl = S.compactClassLoss(
                    reader, scores: scores, row: box &* classes, classes: classes, label: Int(label),
                    marks: &marks)
                let ll = localizationLoss(
                    reader, truth: gtOffsets, truthRow: box &* 4,
                    prediction: predOffsets, predictionRow: box &* 4, marks: &marks)
                if label > 0 {
                    positives += 1
                    classPositive += cl
                    localization += ll
                    sums.notePositive(label: Int(label), pos: 1, share: cl)
                } else if label == 0, cl != 0 {
                    negativeLosses[count] = cl
                    classLosses[count] = cl
                    count &+= 1
                }
            }
            sums.positives[b] = positives
            sums.classPositive[b] = classPositive
            sums.localization[b] = localization
            sums.segmentEnds[b] = count
            if sawNonfinite(marks) {
                sums.nonfiniteImage = b
                break
            }
        }
        sums.sawNonfinite = sawNonfinite(marks)
        return sums
    }
}

/// The class of a keras positive box: the index of the largest of its targets `t[1..C-1]`, the
/// lowest on ties (see ``BatchDiagnostics``).
@inline(__always)
func positiveClass<R: ScalarReader>(_ reader: R.Type, yTrue: UnsafeRawPointer, row: Int, classes: Int) -> Int {
    var found = 1
    var largest = R.load(yTrue, row &+ 1)
    for k in 2..<max(2, classes) {
        let t = R.load(yTrue, row &+ k)
        if t > largest {
            largest = t
            found = k
        }
    }
    return found
}

/// Per-batch figures that explain a loss, beside it in every loss record: how the positives are
/// spread over the images and over the classes, and what each class costs.
///
/// Computed in the streaming pass at the positives only (a few per thousand boxes), and from
/// the per-image sums it already keeps, so that a batch costs no more to compute with them.
///
/// The class of a positive box is its label in the `compact` layout; in the `keras` layout it is
/// the index of the largest of its targets `t[1..C-1]` (the entry that sets `pos`), the lowest
/// index on ties. A box adds its positive weight `pos` (1 for a one-hot positive, the fraction
/// with soft labels) to its class's ``ClassFigures/positives`` and its `cl · pos` to the class's
/// ``ClassFigures/classificationSum``: the same terms the batch's `n_pos` and the positive part
/// of `Σ_b class_b` are summed from, so the classes add up to them.
public struct BatchDiagnostics: Sendable, Hashable {
    /// One class's positives and their summed classification loss.
    public struct ClassFigures: Sendable, Hashable {
        /// The class, 1…C−1.
        public var classIndex: Int
        /// The positive weight of the class's boxes: their count with one-hot targets.
        public var positives: Double
        /// `Σ cl · pos` over the class's positive boxes, before any normalisation.
        public var classificationSum: Double

        /// Creates figures.
        public init(classIndex: Int, positives: Double, classificationSum: Double) {
            self.classIndex = classIndex
            self.positives = positives
            self.classificationSum = classificationSum
        }
    }

    /// Images whose positive weight is 0: with the keras profile's batch mining they still take
    /// their share of negatives; a batch of them only teaches background.
    public var imagesWithoutPositives: Int
    /// The largest share of positive anchors in one image: max over images of `n_pos_b / N`.
    public var maxPositiveShare: Double
    /// The classes with a non-zero positive weight, ascending by class (at most C − 1 entries,
    /// and at most one per positive box).
    public var classes: [ClassFigures]

    /// Creates diagnostics from their parts.
    public init(imagesWithoutPositives: Int, maxPositiveShare: Double, classes: [ClassFigures]) {
        self.imagesWithoutPositives = imagesWithoutPositives
        self.maxPositiveShare = maxPositiveShare
        self.classes = classes
    }

    /// The diagnostics of a pass's sums (which hold per-class figures when the pass collected them).
    init(_ sums: BatchSums, boxes: Int) {
        imagesWithoutPositives = sums.positives.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        maxPositiveShare = (sums.positives.max() ?? 0) / Double(boxes)
        classes = sums.classPositives.indices.compactMap { k in
            guard k > 0, sums.classPositives[k] != 0 else { return nil }
            return ClassFigures(
                classIndex: k, positives: sums.classPositives[k], classificationSum: sums.classClassification[k])
        }
    }
}

/// One class's figures in one batch: its positives and the summed classification loss of its
/// positive anchors, before the batch's normalisation (a loss record's `diagnostics.classes[]`).
struct ClassFigures: Sendable, Hashable {
    /// The class index, 1…C−1 (0 is the background).
    var classIndex: Int
    /// The class's positives (n_pos of its anchors; fractional with soft labels), above 0.
    var positives: Double
    /// Σ classification loss of the class's positive anchors.
    var classificationSum: Double
}

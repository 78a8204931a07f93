/// The loss of one batch and the counts that explain it.
public struct LossResult: Sendable, Hashable {
    /// The per-image loss, `(class_b + alpha * loc_b) / max(1, n_pos) * B`, as the reference returns it.
    public var perItem: [Double]
    /// Per image, `class_b`: classification loss of the positives plus the mined negatives.
    public var classPerItem: [Double]
    /// Per image, `loc_b`: smooth-L1 localization loss of the positives.
    public var locPerItem: [Double]
    /// The mean of ``perItem``: `classification + alpha * localization`.
    public var loss: Double
    /// `sum_b class_b / max(1, n_pos)`.
    public var classification: Double
    /// `sum_b loc_b / max(1, n_pos)`.
    public var localization: Double
    /// `n_pos`, the sum of the positive mask over the batch (fractional with soft labels).
    public var positives: Double
    /// The number of negatives mined (summed over images with `image` mining).
    public var negatives: Int
    /// `n_nonzero`, the negatives with a non-zero loss (summed over images with `image` mining).
    public var negativesAvailable: Int

    /// Creates a result from its parts.
    public init(
        perItem: [Double], classPerItem: [Double], locPerItem: [Double],
        loss: Double, classification: Double, localization: Double,
        positives: Double, negatives: Int, negativesAvailable: Int
    ) {
        self.perItem = perItem
        self.classPerItem = classPerItem
        self.locPerItem = locPerItem
        self.loss = loss
        self.classification = classification
        self.localization = localization
        self.positives = positives
        self.negatives = negatives
        self.negativesAvailable = negativesAvailable
    }
}

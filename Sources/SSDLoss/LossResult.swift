/// The loss of one batch and the counts that explain it.
public struct LossResult: Sendable, Hashable {
    /// The per-image loss: with the keras profile `(class_b + alpha * loc_b) / max(1, n_pos) * B`,
    /// as the reference returns it; with the others, image b's share of ``loss``,
    /// `(class_b + alpha * loc_b) / normaliser`, with no factor B.
    public var perItem: [Double]
    /// Per image, `class_b`: classification loss of the positives plus the mined negatives.
    public var classPerItem: [Double]
    /// Per image, `loc_b`: smooth-L1 localization loss of the positives.
    public var locPerItem: [Double]
    /// `classification + alpha * localization`: the mean of ``perItem`` (keras), their sum (other profiles).
    public var loss: Double
    /// `sum_b class_b / normaliser`: `max(1, n_pos)`, or for mmdet `sum_b max(1, n_pos_b)`.
    public var classification: Double
    /// `sum_b loc_b / normaliser`.
    public var localization: Double
    /// `n_pos`, the sum of the positive mask over the batch (fractional with soft labels).
    public var positives: Double
    /// The number of negatives mined (summed over images with `image` mining); for the other
    /// profiles, the boxes the framework's own selection takes (docs/LOSSES.md).
    public var negatives: Int
    /// `n_nonzero`, the negatives with a non-zero loss (summed over images with `image` mining).
    public var negativesAvailable: Int
    /// What ``classification`` and ``localization`` are divided by: `max(1, n_pos)`, or for
    /// mmdet `sum_b max(1, n_pos_b)`. With `sum_b class_b` and `sum_b loc_b` it lets the batches
    /// of several ranks be pooled without undoing a division.
    public var normalizer: Double
    /// How the positives spread over images and classes, and each class's classification loss;
    /// nil when the kernel was asked not to collect them (``MultiBoxLoss/collectsDiagnostics``).
    public var diagnostics: BatchDiagnostics?

    /// Creates a result from its parts; `normalizer` defaults to `max(1, positives)`.
    public init(
        perItem: [Double], classPerItem: [Double], locPerItem: [Double],
        loss: Double, classification: Double, localization: Double,
        positives: Double, negatives: Int, negativesAvailable: Int, normalizer: Double? = nil,
        diagnostics: BatchDiagnostics? = nil
    ) {
        self.diagnostics = diagnostics
        self.perItem = perItem
        self.classPerItem = classPerItem
        self.locPerItem = locPerItem
        self.loss = loss
        self.classification = classification
        self.localization = localization
        self.positives = positives
        self.negatives = negatives
        self.negativesAvailable = negativesAvailable
        self.normalizer = normalizer ?? max(1, positives)
    }
}

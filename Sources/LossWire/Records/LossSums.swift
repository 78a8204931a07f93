/// The un-normalised sums of one batch's loss: what its `classification` and `localization` were
/// divided by, and what they were before the division.
///
/// With them, the batches of several ranks can be pooled into the loss of their union exactly,
/// without undoing a division: `Σ classification / pooled normaliser` (docs/DISTRIBUTED.md
/// gives each profile's normaliser). Records carry them as `classification_sum`,
/// `localization_sum` and `normalizer`; records from a sidecar that predates them have none.
public struct LossSums: Sendable, Hashable {
    /// `Σ_b class_b`: the classification loss of the positives and the mined negatives, summed
    /// over the batch's images, before any division.
    public var classification: Double
    /// `Σ_b loc_b`: the smooth-L1 localization loss of the positives, before any division.
    public var localization: Double
    /// What the record's `classification` and `localization` are these sums divided by:
    /// `max(1, n_pos)`, or for the mmdet profile `Σ_b max(1, n_pos_b)`.
    public var normalizer: Double

    /// Sums as given.
    public init(classification: Double, localization: Double, normalizer: Double) {
        self.classification = classification
        self.localization = localization
        self.normalizer = normalizer
    }
}

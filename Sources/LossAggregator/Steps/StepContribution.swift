import LossWire
import SSDLoss

/// One rank's loss record in a step: the figures of a step are computed from these alone.
struct StepContribution: Sendable, Hashable {
    /// The stream that sent it (`""` for a sender without one).
    var stream: String
    /// The `world_size` the record named.
    var worldSize: Int
    /// B, the images of the rank's batch.
    var batch: Int
    /// The record's own `loss`, `classification` and `localization`, as its rank normalised them.
    var loss: Double
    var classification: Double
    var localization: Double
    /// n_pos of the rank's batch.
    var positives: Double
    /// The un-normalised sums; nil for a record from a sidecar that predates them.
    var sums: LossSums?
    /// The profile the rank's loss was computed with.
    var profile: LossProfile
    /// The localization weight it was computed with.
    var alpha: Double

    /// The contribution of a loss record sent by `stream`.
    init(_ record: LossRecord, stream: String, worldSize: Int) {
        self.stream = stream
        self.worldSize = worldSize
        batch = record.shape.batch
        loss = record.loss
        classification = record.classification
        localization = record.localization
        positives = record.positives
        sums = record.sums
        profile = record.parameters.profile
        alpha = record.parameters.alpha
    }

    /// A contribution as given (for restoring a saved state).
    init(
        stream: String, worldSize: Int, batch: Int, loss: Double, classification: Double, localization: Double,
        positives: Double, sums: LossSums?, profile: LossProfile, alpha: Double
    ) {
        self.stream = stream
        self.worldSize = worldSize
        self.batch = batch
        self.loss = loss
        self.classification = classification
        self.localization = localization
        self.positives = positives
        self.sums = sums
        self.profile = profile
        self.alpha = alpha
    }
}

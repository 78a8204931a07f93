/// The running classification loss of one class of one (run, split): the loss per positive
/// anchor of the class, from the per-class sums of the loss records' `diagnostics`.
///
/// A batch contributes when the class has positives in it. Its value is the batch's
/// `classification_sum / positives` for the class: the summed classification loss of the class's
/// positive anchors (before the batch's normalisation) per positive anchor. The figures are a
/// ``ComponentStatistics`` over those values weighted by the class's positives: its EMA takes one
/// step per such batch, with the split's `ema_decay` and the same debiasing as the components'
/// EMA, and a class that is absent from a batch keeps its EMA unchanged; its mean is
/// Σ `classification_sum` / Σ `positives`. A value that is not finite is kept as ``last`` only.
struct ClassStatistics: Sendable, Hashable {
    /// The loss per positive anchor, weighted by the class's positives.
    var loss = ComponentStatistics()
    /// Batches in which the class had positives.
    var batches = 0

    /// Adds one batch's figures of the class; `positives` must be above 0.
    mutating func add(positives: Double, classificationSum: Double, decay: Double) {
        batches += 1
        loss.add(classificationSum / positives, weight: positives, decay: decay, inEpoch: true)
    }

    /// Σ positives of the batches with a finite value.
    var positives: Double { loss.weight }
}

/// The running classification loss of one class of one (run, split): the loss per positive
/// anchor of the class, from the per-class sums of the loss records' `diagnostics`.
///
/// A batch contributes when the class has positives in it. Its value is the batch's
/// `classification_sum / positives` for the class: the summed classification loss of the class's
/// positive anchors (before the batch's normalisation) per positive anchor. The EMA takes one step
/// per such batch, with the split's `ema_decay` and the same debiasing as the components' EMA
/// (``ComponentStatistics``); a class that is absent from a batch keeps its EMA unchanged.
struct ClassStatistics: Sendable, Hashable {
    /// Σ positives of the class since start.
    var positives = 0.0
    /// Σ classification loss of the class's positive anchors since start.
    var classificationSum = 0.0
    /// Batches in which the class had positives.
    var batches = 0
    /// The EMA before debiasing: `d·ema + (1−d)·x` per batch with a finite value, starting from 0.
    var emaRaw = 0.0
    /// `d^t`, where t is the number of batches with a finite value.
    var decayPower = 1.0
    /// The latest batch's loss per positive anchor of the class.
    var last: Double?

    /// Adds one batch's figures of the class; `positives` must be above 0.
    mutating func add(positives batchPositives: Double, classificationSum batchSum: Double, decay: Double) {
        let value = batchSum / batchPositives
        last = value
        batches += 1
        guard value.isFinite else { return }
        positives += batchPositives
        classificationSum += batchSum
        emaRaw = decay * emaRaw + (1 - decay) * value
        decayPower *= decay
    }

    /// The debiased EMA of the loss per positive anchor, or nil before any finite value.
    var ema: Double? { decayPower < 1 ? emaRaw / (1 - decayPower) : nil }

    /// Σ classification loss / Σ positives since start, or nil before any positive.
    var mean: Double? { positives > 0 ? classificationSum / positives : nil }
}

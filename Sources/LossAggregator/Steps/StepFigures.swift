import LossWire
import SSDLoss

/// The figures of one step across its ranks (docs/DISTRIBUTED.md).
///
/// - `pooled`: the loss of the step's batches taken together, each rank's mining as it was:
///   `Σ classification_sum / N` and `Σ localization_sum / N`, with the profile's normaliser over
///   the whole step (`N = max(1, Σ n_pos)`; mmdet: `N = Σ normalizer`, its `Σ_b max(1, n_pos_b)`
///   over every image of every rank), and `loss = classification + alpha · localization`. It is
///   nil when a record lacks the sums (an older sidecar) or the ranks used different profiles or
///   `alpha`: there is then no one framework loss to give.
/// - `mean`: `Σ B_r · x_r / Σ B_r` over the ranks' own figures, what data-parallel training
///   optimises when every rank normalises alone.
///
/// Sums run over the ranks in rank order, so the same records always give the same bits.
struct StepFigures: Sendable, Hashable {
    /// The pooled loss of the step.
    var pooled: StepValues
    /// The batch-size-weighted mean of the ranks' losses.
    var mean: StepValues
    /// Σ B: the images of the step.
    var samples: Int
    /// The ranks that have a record in the step.
    var ranks: Int

    /// The figures of `contributions` (any order).
    init(_ contributions: [Int: StepContribution]) {
        let ordered = contributions.sorted { $0.key < $1.key }.map(\.value)
        ranks = ordered.count
        samples = ordered.reduce(0) { $0 + $1.batch }
        mean = Self.mean(ordered)
        pooled = Self.pooled(ordered) ?? .none
    }

    /// `Σ B·x / Σ B` of each component; nil for a component with a value that is not finite.
    private static func mean(_ ordered: [StepContribution]) -> StepValues {
        var weight = 0.0
        var sums = SIMD4<Double>(repeating: 0)
        for contribution in ordered {
            let batch = Double(contribution.batch)
            weight += batch
            sums += batch * SIMD4(contribution.loss, contribution.classification, contribution.localization, 0)
        }
        func value(_ lane: Int) -> Double? {
            let result = sums[lane] / weight
            return weight > 0 && result.isFinite ? result : nil
        }
        return StepValues(loss: value(0), classification: value(1), localization: value(2))
    }

    /// The loss of the union of the ranks' batches, or nil when it cannot be given.
    private static func pooled(_ ordered: [StepContribution]) -> StepValues? {
        guard let first = ordered.first else { return nil }
        var classification = 0.0
        var localization = 0.0
        var positives = 0.0
        var normalizers = 0.0
        for contribution in ordered {
            guard let sums = contribution.sums, contribution.profile == first.profile,
                contribution.alpha == first.alpha
            else { return nil }
            classification += sums.classification
            localization += sums.localization
            positives += contribution.positives
            normalizers += sums.normalizer
        }
        let normalizer = Self.normalizer(first.profile, positives: positives, normalizers: normalizers)
        let pooledClassification = classification / normalizer
        let pooledLocalization = localization / normalizer
        let loss = pooledClassification + first.alpha * pooledLocalization
        guard loss.isFinite, pooledClassification.isFinite, pooledLocalization.isFinite else { return nil }
        return StepValues(loss: loss, classification: pooledClassification, localization: pooledLocalization)
    }

    /// The normaliser of the pooled batch: `max(1, Σ n_pos)` as keras, torchvision and
    /// ssd.pytorch divide one batch; mmdet's `avg_factor` is a sum over images, so the ranks'
    /// normalisers add up.
    static func normalizer(_ profile: LossProfile, positives: Double, normalizers: Double) -> Double {
        switch profile {
        case .mmdet: normalizers
        case .keras, .torchvision, .ssdPytorch: max(1, positives)
        }
    }
}

import LossWire
import SSDLoss

@testable import LossAggregator

/// Loss and error records for scripted aggregation tests.
enum Records {
    /// A loss record with the given figures; per_item holds `batch` copies of `loss`.
    static func loss(
        run: String = "r", split: String = "train", source: String = "s", seq: Int? = nil,
        epoch: Int? = nil, step: Int? = nil, batch: Int = 1, loss: Double,
        classification: Double? = nil, localization: Double? = nil, positives: Double = 1, negatives: Int = 3
    ) -> ResultRecord {
        let classification = classification ?? loss
        let localization = localization ?? (loss - classification)
        return .loss(
            LossRecord(
                run: run, split: split, source: source, epoch: epoch, step: step, seq: seq,
                shape: BatchShape(batch: batch, boxes: 8, classes: 4), loss: loss, classification: classification,
                localization: localization, perItem: Array(repeating: loss, count: batch), positives: positives,
                negatives: negatives, negativesAvailable: 10, parameters: LossParameters(), computeMicros: 1,
                sidecar: "test"))
    }

    /// A loss record of one rank of a data-parallel job: its own `loss` normalised by its own
    /// `positives` (as the profile does), with the sums it was divided from.
    static func rank(
        _ rank: Int, of worldSize: Int, step: Int, stream: String, run: String = "job", split: String = "train",
        source: String? = nil, seq: Int? = nil, batch: Int = 4, classificationSum: Double, localizationSum: Double,
        positives: Double, normalizer: Double? = nil, profile: LossProfile = .keras, alpha: Double = 1
    ) -> ResultRecord {
        let normalizer = normalizer ?? max(1, positives)
        let classification = classificationSum / normalizer
        let localization = localizationSum / normalizer
        var parameters = profile.parameters
        parameters.alpha = alpha
        return .loss(
            LossRecord(
                run: run, split: split, source: source ?? "host:\(rank)", step: step, seq: seq, stream: stream,
                rank: rank, worldSize: worldSize, shape: BatchShape(batch: batch, boxes: 8, classes: 4),
                loss: classification + alpha * localization, classification: classification,
                localization: localization, perItem: [], positives: positives, negatives: 3, negativesAvailable: 10,
                sums: LossSums(
                    classification: classificationSum, localization: localizationSum, normalizer: normalizer),
                parameters: parameters, computeMicros: 1, sidecar: "test"))
    }

    /// A loss record of a sender with a stream (and no rank).
    static func streamed(
        _ stream: String, seq: Int, run: String = "r", source: String = "s", loss: Double = 1
    ) -> ResultRecord {
        .loss(
            LossRecord(
                run: run, split: "train", source: source, seq: seq, stream: stream,
                shape: BatchShape(batch: 1, boxes: 8, classes: 4), loss: loss, classification: loss,
                localization: 0, perItem: [loss], positives: 1, negatives: 3, negativesAvailable: 10,
                parameters: LossParameters(), computeMicros: 1, sidecar: "test"))
    }

    /// An error record with the given labels.
    static func error(
        _ code: ErrorCode = .badFrames, run: String? = "r", split: String? = "train", source: String? = "s",
        seq: Int? = nil
    ) -> ResultRecord {
        .error(
            WireError(
                code: code, message: "test", labels: BatchLabels(run: run, split: split, source: source, seq: seq)))
    }
}

/// Whether two numbers agree to 1e-12 relative.
func isClose(_ actual: Double?, _ expected: Double, tolerance: Double = 1e-12) -> Bool {
    guard let actual else { return false }
    return abs(actual - expected) <= tolerance * max(1, abs(expected))
}

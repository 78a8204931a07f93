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

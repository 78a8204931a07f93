import SSDLoss

/// Translates what the kernel can report into the error codes and sentences of SPEC §2.
enum LossFailure {
    /// The error record content for a kernel error.
    static func wireError(for error: LossError, labels: BatchLabels) -> WireError {
        switch error {
        case .nonfinite(let report):
            var counts: [String: Int] = [:]
            for entry in report.entries { counts[entry.tensor] = entry.counts.total }
            var wire = WireError.nonfinite(counts: counts, labels: labels)
            wire.message = "\(report); check the model's outputs and the ground truth for overflow before sending"
            return wire
        case .labelOutOfRange:
            return WireError(code: .badLabels, message: "\(error)", labels: labels)
        case .sizeMismatch:
            return WireError(code: .badFrames, message: "\(error)", labels: labels)
        }
    }

    /// The error for finite inputs whose loss still overflowed (values near the type's maximum).
    static func nonfiniteResult(labels: BatchLabels) -> WireError {
        WireError(
            code: .nonfinite,
            message: "the inputs are finite but the loss overflowed to infinity; the offsets or scores "
                + "are far outside any trained model's range: check for unscaled values",
            labels: labels)
    }
}

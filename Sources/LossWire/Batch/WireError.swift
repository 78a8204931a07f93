public import SSDLoss

/// Why a batch was rejected: thrown by the decoder, and carried as it is by the batch's error
/// record (``ResultRecord/error(_:)``), from the sidecar to the aggregator.
///
/// The ``message`` is a sentence a person can act on, naming the offending key or frame and the
/// values involved. ``labels`` holds the grouping labels read before the failure, so the error
/// record can still be attributed to its run, split and source.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error code (`code`).
    public var code: ErrorCode
    /// What was wrong and what to do about it (`error`).
    public var message: String
    /// The labels read from the header before validation failed (`run`, `split`, `source`,
    /// `epoch`, `step`, `seq`).
    public var labels: BatchLabels
    /// Extra machine-readable facts, e.g. non-finite counts per tensor (`details`); omitted when nil.
    public var details: [String: JSONValue]?

    /// Creates an error.
    public init(code: ErrorCode, message: String, labels: BatchLabels = .none, details: [String: JSONValue]? = nil) {
        self.code = code
        self.message = message
        self.labels = labels
        self.details = details
    }

    /// An error for tensors holding NaN or ±Inf.
    ///
    /// - Parameters:
    ///   - counts: the number of non-finite values per tensor name (e.g. `["y_pred": 3]`); tensors
    ///     with a count of 0 may be omitted.
    ///   - labels: the batch's labels.
    public static func nonfinite(counts: [String: Int], labels: BatchLabels) -> WireError {
        let listed = counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let summary = listed.map { "\($0.key) has \($0.value)" }.joined(separator: ", ")
        var details: [String: JSONValue] = [:]
        for (name, count) in counts { details[name] = .int(count) }
        return WireError(
            code: .nonfinite,
            message: "the batch holds NaN or infinite values (\(summary)); check the model's outputs "
                + "and the ground truth for overflow before sending",
            labels: labels,
            details: ["nonfinite": .object(details)]
        )
    }

    /// An error for tensors holding NaN or ±Inf, from the kernel's report: the message names the
    /// first place of each tensor, what its column means and what to check; `details` holds
    /// `nonfinite` (counts per tensor, every tensor read), `nonfinite_places` (the first places of
    /// each tensor, in wire order) and `nonfinite_kinds` (counts per tensor and kind, tensors and
    /// kinds with none omitted). docs/PROTOCOL.md gives the schema.
    public static func nonfinite(_ report: NonfiniteReport, labels: BatchLabels) -> WireError {
        var counts: [String: JSONValue] = [:]
        var kinds: [String: JSONValue] = [:]
        for entry in report.entries {
            counts[entry.tensor] = .int(entry.counts.total)
            guard !entry.kinds.isEmpty else { continue }
            kinds[entry.tensor] = .object(
                Dictionary(uniqueKeysWithValues: entry.kinds.map { ($0.key.rawValue, JSONValue.int($0.value)) }))
        }
        let places = report.places.map { place -> JSONValue in
            var members: [String: JSONValue] = [
                "tensor": .string(place.tensor), "image": .int(place.image), "anchor": .int(place.anchor),
                "column": .int(place.column), "kind": .string(place.kind.rawValue),
                "meaning": .string(place.meaning), "value": .string(place.value.rawValue),
                "hint": .string(place.kind.hint),
            ]
            if let classIndex = place.classIndex { members["class"] = .int(classIndex) }
            return .object(members)
        }
        return WireError(
            code: .nonfinite, message: report.description, labels: labels,
            details: [
                "nonfinite": .object(counts), "nonfinite_places": .array(places), "nonfinite_kinds": .object(kinds),
            ])
    }

    /// What the kernel found wrong with a batch, in the codes and sentences of SPEC §2.
    ///
    /// - Parameters:
    ///   - error: the kernel's error.
    ///   - labels: the batch's labels.
    public init(_ error: LossError, labels: BatchLabels) {
        switch error {
        case .nonfinite(let report):
            self = .nonfinite(report, labels: labels)
        case .labelOutOfRange:
            self.init(code: .badLabels, message: "\(error)", labels: labels)
        case .sizeMismatch:
            self.init(code: .badFrames, message: "\(error)", labels: labels)
        }
    }

    /// The error for finite inputs whose loss still overflowed (values near the type's maximum).
    public static func nonfiniteResult(labels: BatchLabels) -> WireError {
        WireError(
            code: .nonfinite,
            message: "the inputs are finite but the loss overflowed to infinity; the offsets or scores "
                + "are far outside any trained model's range: check for unscaled values",
            labels: labels)
    }

    /// "<code>: <message>".
    public var description: String { "\(code.rawValue): \(message)" }
}

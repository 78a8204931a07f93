import LossWire

/// Non-finite input values of one (run, split) by tensor and kind, from its error records with
/// code `nonfinite` (`lossd_nonfinite_values_total{tensor,kind}`).
///
/// An error record's `details.nonfinite_kinds` (`{"y_pred": {"class_score": 1}}`) gives the counts
/// by kind. A tensor counted in `details.nonfinite` but absent from `nonfinite_kinds` (every record
/// of a sidecar that predates the kinds) counts under the kind `unknown`. Names are the ones lossd's
/// sidecar writes; any other tensor or kind counts as `other`, so a record cannot grow the table:
/// it holds at most ``tensors``·(``kinds`` + 2) entries.
struct NonfiniteValueCounts: Sendable, Hashable {
    /// The tensors of both layouts, as the sidecar names them.
    static let tensors: Set<String> = ["y_true", "y_pred", "gt_offsets", "scores", "pred_offsets", "labels", "anchors"]
    /// What a non-finite value can be, as the sidecar names it.
    static let kinds: Set<String> = ["class_score", "gt_class", "gt_offset", "pred_offset", "anchor"]
    /// The kind of values counted by a record without `nonfinite_kinds`.
    static let unknownKind = "unknown"
    /// The tensor or kind of a name lossd does not write.
    static let otherName = "other"

    /// One tensor and kind.
    struct Key: Sendable, Hashable, Comparable {
        /// The tensor's name.
        var tensor: String
        /// The kind of value.
        var kind: String

        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.tensor, lhs.kind) < (rhs.tensor, rhs.kind) }
    }

    /// The counts, only non-zero ones.
    var counts: [Key: Int] = [:]

    /// Adds the counts of an error record's `details`; records of other codes add nothing.
    mutating func add(_ error: WireError) {
        guard error.code == .nonfinite, let details = error.details else { return }
        var byKind: [String: [String: JSONValue]] = [:]
        if case .object(let tensors)? = details["nonfinite_kinds"] {
            for (tensor, kinds) in tensors {
                if case .object(let members) = kinds { byKind[tensor] = members }
            }
        }
        for (tensor, kinds) in byKind {
            for (kind, count) in kinds {
                add(count.intValue ?? 0, tensor: tensor, kind: Self.kinds.contains(kind) ? kind : Self.otherName)
            }
        }
        if case .object(let totals)? = details["nonfinite"] {
            for (tensor, total) in totals where byKind[tensor] == nil {
                add(total.intValue ?? 0, tensor: tensor, kind: Self.unknownKind)
            }
        }
    }

    private mutating func add(_ count: Int, tensor: String, kind: String) {
        guard count > 0 else { return }
        let key = Key(tensor: Self.tensors.contains(tensor) ? tensor : Self.otherName, kind: kind)
        let (sum, overflow) = counts[key, default: 0].addingReportingOverflow(count)
        counts[key] = overflow ? Int.max : sum
    }

    /// No counts.
    init() {}

    /// Counts saved by tensor, then kind (the state file); names lossd does not write count as
    /// `other`, so a damaged file cannot grow the table either.
    init(nested: [String: [String: Int]]) {
        for (tensor, kinds) in nested {
            for (kind, count) in kinds {
                let known = Self.kinds.contains(kind) || kind == Self.unknownKind
                add(count, tensor: tensor, kind: known ? kind : Self.otherName)
            }
        }
    }

    /// The counts by tensor, then kind.
    var nested: [String: [String: Int]] {
        var nested: [String: [String: Int]] = [:]
        for (key, count) in counts { nested[key.tensor, default: [:]][key.kind] = count }
        return nested
    }
}

/// The NaN and ±Inf values of a batch, per tensor: counts, counts by kind of value, and the
/// first few places with what they mean.
///
/// In the `keras` layout the loss reads the C class entries and the 4 box offsets of every box of
/// `y_true` and `y_pred`; the 8 trailing entries it ignores are not read and so never counted.
/// In the `compact` layout it reads every value of `gt_offsets`, `scores` and `pred_offsets`
/// (labels are integers and cannot be non-finite).
public struct NonfiniteReport: Sendable, Hashable, CustomStringConvertible {
    /// The non-finite values found in one tensor.
    public struct Counts: Sendable, Hashable {
        /// NaN values (quiet or signalling).
        public var nan: Int
        /// +Inf values.
        public var positiveInfinity: Int
        /// −Inf values.
        public var negativeInfinity: Int

        /// Creates counts.
        public init(nan: Int = 0, positiveInfinity: Int = 0, negativeInfinity: Int = 0) {
            self.nan = nan
            self.positiveInfinity = positiveInfinity
            self.negativeInfinity = negativeInfinity
        }

        /// All non-finite values of the tensor.
        public var total: Int { nan + positiveInfinity + negativeInfinity }

        /// Counts one value.
        mutating func add(_ value: NonfiniteValue) {
            switch value {
            case .nan: nan += 1
            case .positiveInfinity: positiveInfinity += 1
            case .negativeInfinity: negativeInfinity += 1
            }
        }
    }

    /// One tensor's name as on the wire (`y_true`, `y_pred`, `gt_offsets`, `scores`,
    /// `pred_offsets`) and what was found in it.
    public struct Entry: Sendable, Hashable {
        /// The tensor's name as on the wire.
        public var tensor: String
        /// What was found in it.
        public var counts: Counts
        /// The same values counted by what their column holds; kinds with none are absent.
        public var kinds: [NonfiniteKind: Int]
        /// The first ``NonfiniteReport/placesPerTensor`` places, in the tensor's order (image,
        /// anchor, column).
        public var places: [NonfinitePlace]

        /// Creates an entry.
        public init(tensor: String, counts: Counts, kinds: [NonfiniteKind: Int] = [:], places: [NonfinitePlace] = []) {
            self.tensor = tensor
            self.counts = counts
            self.kinds = kinds
            self.places = places
        }
    }

    /// The most places a report keeps per tensor.
    public static let placesPerTensor = 4

    /// Every tensor the loss read, in wire order, including those with no non-finite value.
    public var entries: [Entry]

    /// Creates a report from its entries, in wire order.
    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// The counts of the named tensor; zero counts when it was not read.
    public subscript(tensor: String) -> Counts {
        entries.first { $0.tensor == tensor }?.counts ?? Counts()
    }

    /// NaN values over every tensor.
    public var nan: Int { entries.reduce(0) { $0 + $1.counts.nan } }
    /// +Inf values over every tensor.
    public var positiveInfinity: Int { entries.reduce(0) { $0 + $1.counts.positiveInfinity } }
    /// −Inf values over every tensor.
    public var negativeInfinity: Int { entries.reduce(0) { $0 + $1.counts.negativeInfinity } }
    /// Non-finite values over every tensor.
    public var total: Int { entries.reduce(0) { $0 + $1.counts.total } }
    /// The places kept, tensor by tensor in wire order.
    public var places: [NonfinitePlace] { entries.flatMap(\.places) }

    /// A sentence a person can act on: the counts per tensor, then, for each tensor, its first
    /// place, what the column means and what to check, e.g. "the batch has 2 non-finite values
    /// (y_true: 1 +Inf; y_pred: 1 NaN); the first in y_true is +Inf at image 0, anchor 17, column
    /// 23 (ground-truth offset w): a non-finite ground-truth offset comes from a degenerate box …".
    public var description: String {
        let found = entries.filter { $0.counts.total > 0 }
        let parts = found.map { entry -> String in
            var kinds: [String] = []
            if entry.counts.nan > 0 { kinds.append("\(entry.counts.nan) NaN") }
            if entry.counts.positiveInfinity > 0 { kinds.append("\(entry.counts.positiveInfinity) +Inf") }
            if entry.counts.negativeInfinity > 0 { kinds.append("\(entry.counts.negativeInfinity) -Inf") }
            return "\(entry.tensor): " + kinds.joined(separator: ", ")
        }
        let noun = total == 1 ? "value" : "values"
        var sentence = "the batch has \(total) non-finite \(noun) (\(parts.joined(separator: "; ")))"
        for entry in found {
            guard let place = entry.places.first else { continue }
            sentence +=
                "; the first in \(entry.tensor) is \(place.value.rawValue) at image \(place.image), "
                + "anchor \(place.anchor), column \(place.column) (\(place.meaning)): \(place.kind.hint)"
        }
        if found.allSatisfy({ $0.places.isEmpty }) {
            sentence += "; the loss needs finite inputs: check the model for divergence and the targets for NaN"
        }
        return sentence
    }
}

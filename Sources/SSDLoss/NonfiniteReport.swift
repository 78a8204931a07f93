/// Counts of NaN and ±Inf values, per tensor, in the values the loss reads.
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
    }

    /// One tensor's name as on the wire (`y_true`, `y_pred`, `gt_offsets`, `scores`,
    /// `pred_offsets`) and its counts.
    public struct Entry: Sendable, Hashable {
        /// The tensor's name as on the wire.
        public var tensor: String
        /// What was found in it.
        public var counts: Counts

        /// Creates an entry.
        public init(tensor: String, counts: Counts) {
            self.tensor = tensor
            self.counts = counts
        }
    }

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

    /// A sentence a person can act on, e.g. "the batch has 3 non-finite values (y_pred: 2 NaN, 1 +Inf); …".
    public var description: String {
        let parts = entries.filter { $0.counts.total > 0 }.map { entry -> String in
            var kinds: [String] = []
            if entry.counts.nan > 0 { kinds.append("\(entry.counts.nan) NaN") }
            if entry.counts.positiveInfinity > 0 { kinds.append("\(entry.counts.positiveInfinity) +Inf") }
            if entry.counts.negativeInfinity > 0 { kinds.append("\(entry.counts.negativeInfinity) -Inf") }
            return "\(entry.tensor): " + kinds.joined(separator: ", ")
        }
        let noun = total == 1 ? "value" : "values"
        return "the batch has \(total) non-finite \(noun) (\(parts.joined(separator: "; "))); "
            + "the loss needs finite inputs: check the model for divergence (learning rate, "
            + "exploding gradients) and the targets for NaN before sending"
    }
}

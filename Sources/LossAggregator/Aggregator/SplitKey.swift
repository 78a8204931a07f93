/// A (run, split) pair: the unit the loss statistics are kept for.
public struct SplitKey: Sendable, Hashable, Comparable {
    /// The record's `run`.
    public var run: String
    /// The record's `split`.
    public var split: String

    /// Creates a key.
    public init(run: String, split: String) {
        self.run = run
        self.split = split
    }

    /// Orders by run, then split, so that listings are stable.
    public static func < (lhs: SplitKey, rhs: SplitKey) -> Bool {
        (lhs.run, lhs.split) < (rhs.run, rhs.split)
    }
}

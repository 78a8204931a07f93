/// A (run, source) pair: the unit seqs are counted in, and lost and duplicated batches with them.
public struct SourceKey: Sendable, Hashable, Comparable {
    /// The record's `run`.
    public var run: String
    /// The record's `source`.
    public var source: String

    /// Creates a key.
    public init(run: String, source: String) {
        self.run = run
        self.source = source
    }

    /// Orders by run, then source, so that listings are stable.
    public static func < (lhs: SourceKey, rhs: SourceKey) -> Bool {
        (lhs.run, lhs.source) < (rhs.run, rhs.source)
    }
}

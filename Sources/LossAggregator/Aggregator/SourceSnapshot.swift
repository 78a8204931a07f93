/// Lost, duplicated and late batches of one (run, source) at one moment.
public struct SourceSnapshot: Sendable, Hashable {
    /// The run.
    public var run: String
    /// The source.
    public var source: String
    /// The highest seq seen.
    public var highestSeq: Int
    /// Seqs counted lost (never seen once more than `reorder_window` below the highest) and not
    /// arrived since.
    public var lost: Int
    /// Records whose seq had been seen before (not aggregated again).
    public var duplicates: Int
    /// Records that arrived after their seq had been counted lost (aggregated, taken off `lost`).
    public var late: Int
    /// Seqs within the reorder window not seen yet: they count as lost if they fall out of it,
    /// or at shutdown.
    public var pending: Int

    init(key: SourceKey, _ tracker: SequenceTracker) {
        run = key.run
        source = key.source
        highestSeq = tracker.highest
        lost = tracker.lost
        duplicates = tracker.duplicates
        late = tracker.late
        pending = tracker.pending.count
    }
}

import Synchronization

/// What an aggregation daemon has done, and what it failed to keep: read once it has stopped,
/// it says whether every record it took is in its outputs.
public struct AggregatorReport: Sendable, Hashable {
    /// Records ingested into the statistics.
    public var records: Int
    /// Messages that were not records.
    public var invalid: Int
    /// Records of (run, split) or (run, source) pairs beyond `max_keys`.
    public var overflow: Int
    /// Batches missing from the sidecars' seq (lost before they reached the aggregator).
    public var lost: Int
    /// Batches that arrived twice.
    public var duplicates: Int
    /// Saves of the state file that failed (each logged).
    public var stateSaveFailures: Int
    /// Whether the save at shutdown failed: the file on disk misses what came after its last
    /// good save, and a restart would lose it.
    public var finalSaveFailed: Bool
    /// Records ingested but not in the state file as the daemon stopped (0 after a good final
    /// save, or without a state file).
    public var unsavedRecords: Int
    /// Snapshots that could not be appended to the snapshots file (each logged).
    public var snapshotFailures: Int

    /// Whether records the daemon took are missing from its outputs (state file or snapshots):
    /// `lossd aggregate` then exits with status 2.
    public var lostOwnRecords: Bool { finalSaveFailed || snapshotFailures > 0 }

    /// `records=… invalid=… overflow=… lost=… duplicates=… unsaved=… state_failures=… snapshot_failures=…`.
    public var counts: String {
        """
        records=\(records) invalid=\(invalid) overflow=\(overflow) lost=\(lost) duplicates=\(duplicates) \
        unsaved=\(unsavedRecords) state_failures=\(stateSaveFailures) snapshot_failures=\(snapshotFailures)
        """
    }
}

/// The writer thread's failure counts, read by ``AggregatorDaemon/report``.
final class AggregatorWriterCounters: Sendable {
    let stateSaveFailures = Atomic<Int>(0)
    let snapshotFailures = Atomic<Int>(0)
    /// The records in the state file as of its last good save.
    let savedRecords = Atomic<Int>(0)
    /// Whether the last save (at shutdown, once stopped) failed.
    let lastSaveFailed = Atomic<Bool>(false)
}

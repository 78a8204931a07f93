/// Everything the aggregator serves, at one moment: what `/stats`, `/metrics`, the snapshots file
/// and the `stats` topic show.
public struct AggregatorSnapshot: Sendable, Hashable {
    /// When the snapshot was taken, in seconds since the Unix epoch.
    public var time: Double
    /// When the aggregation started, in seconds since the Unix epoch (kept across restarts).
    public var startTime: Double
    /// The parameters the statistics are kept with.
    public var parameters: AggregationParameters
    /// Every message read: valid, invalid, duplicate or overflow.
    public var records: Int
    /// Messages that were not a valid v1 record.
    public var invalid: Int
    /// Records not stored because `max_keys` was reached.
    public var overflow: Int
    /// Messages per second over about the last 10 s.
    public var recordsPerSecond: Double
    /// One entry per (run, split), sorted by run, then split.
    public var splits: [SplitSnapshot]
    /// One entry per (run, source) that sent seqs, sorted by run, then source.
    public var sources: [SourceSnapshot]

    /// The entry of one (run, split), if it exists.
    public func split(run: String, split: String) -> SplitSnapshot? {
        splits.first { $0.run == run && $0.split == split }
    }

    /// The entry of one (run, source), if it exists.
    public func source(run: String, source: String) -> SourceSnapshot? {
        sources.first { $0.run == run && $0.source == source }
    }
}

extension Aggregation {
    /// The derived statistics as of `time` (seconds since the Unix epoch), listing the last
    /// `steps` steps of each (run, split).
    public func snapshot(at time: Double, steps: Int = SplitSnapshot.defaultStepCount) -> AggregatorSnapshot {
        AggregatorSnapshot(
            time: time, startTime: startTime, parameters: parameters, records: records, invalid: invalid,
            overflow: overflow, recordsPerSecond: rate.rate(at: time),
            splits: splits.sorted { $0.key < $1.key }.map {
                SplitSnapshot(key: $0.key, $0.value, at: time, steps: steps)
            },
            sources: sources.sorted { $0.key < $1.key }.map { SourceSnapshot(key: $0.key, $0.value) })
    }
}

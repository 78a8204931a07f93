public import LossWire

/// The aggregator's state as a plain value: statistics per (run, split), seq bookkeeping per
/// (run, source), and totals (SPEC §6).
///
/// Not thread-safe by itself; ``Aggregator`` puts it behind a lock. Every method is O(1) per record
/// except when a seq jumps ahead, which costs at most the reorder window plus its memory.
///
/// Each (run, split) also keeps a bounded, downsampled history of its curves for the dashboard
/// (``HistoryBuffer``, ``history(at:)``); each point records the run's lost batches, which
/// ``lostByRun`` keeps current without summing the sources per record.
public struct Aggregation: Sendable {
    /// What became of one record.
    public enum Outcome: Sendable, Hashable {
        /// Aggregated.
        case aggregated
        /// Aggregated after its seq had been counted lost (it was taken off the lost count).
        case late
        /// Its (run, source, seq) was seen before; not aggregated again.
        case duplicate
        /// Its (run, split) or (run, source) would exceed `max_keys`; counted, not stored.
        case overflow
        /// Not a usable record (counted as invalid).
        case invalid
    }

    /// The parameters the statistics are kept with.
    public let parameters: AggregationParameters
    /// Statistics by (run, split).
    var splits: [SplitKey: SplitStatistics] = [:]
    /// Seq bookkeeping by (run, source), for records that carry a seq.
    var sources: [SourceKey: SequenceTracker] = [:]
    /// Lost batches by run: the sum of ``SequenceTracker/lost`` over the run's sources, kept in
    /// step with them (it changes only when a batch is counted lost or arrives late).
    var lostByRun: [String: Int] = [:]
    /// Every message read: valid, invalid, duplicate or overflow.
    var records = 0
    /// Messages that were not a valid v1 record.
    var invalid = 0
    /// Records dropped because `max_keys` was reached.
    var overflow = 0
    /// When this aggregation started (seconds since the Unix epoch); kept across restarts.
    var startTime: Double
    /// All messages per second.
    var rate = RateEstimator()

    /// An empty aggregation started at `startTime` (seconds since the Unix epoch).
    public init(parameters: AggregationParameters = AggregationParameters(), startTime: Double) {
        self.parameters = parameters
        self.startTime = startTime
    }

    /// Aggregates one decoded record that arrived at `time` (seconds since the Unix epoch).
    ///
    /// Error records count under their code for their (run, split), taking the protocol's
    /// defaults (`default`, `train`, `""`) for labels the sidecar could not read.
    @discardableResult
    public mutating func ingest(_ record: ResultRecord, at time: Double) -> Outcome {
        records += 1
        rate.count(at: time)
        let splitKey: SplitKey
        let source: String
        let seq: Int?
        switch record {
        case .loss(let loss):
            guard loss.shape.batch >= 1 else {
                invalid += 1
                return .invalid
            }
            splitKey = SplitKey(run: loss.run, split: loss.split)
            source = loss.source
            seq = loss.seq
        case .error(let error):
            let labels = error.labels
            splitKey = SplitKey(run: labels.run ?? "default", split: labels.split ?? "train")
            source = labels.source ?? ""
            seq = labels.seq
        }
        // A negative seq cannot come from a sidecar; such a record is aggregated as one without seq.
        let trackedSeq = seq.flatMap { $0 >= 0 ? $0 : nil }
        let sourceKey = trackedSeq.map { _ in SourceKey(run: splitKey.run, source: source) }
        guard admits(splitKey, sourceKey) else {
            overflow += 1
            return .overflow
        }
        var outcome = Outcome.aggregated
        if let trackedSeq, let sourceKey {
            var lostChange = 0
            let observation = sources[sourceKey, default: SequenceTracker(reorderWindow: parameters.reorderWindow)]
                .observe(trackedSeq, lostChange: &lostChange)
            if lostChange != 0 { lostByRun[splitKey.run, default: 0] += lostChange }
            switch observation {
            case .new: break
            case .late: outcome = .late
            case .duplicate: return .duplicate
            }
        }
        let window = parameters.window
        let decay = parameters.emaDecay
        let historyPoints = parameters.historyPoints
        switch record {
        case .loss(let loss):
            // A copy (a reference, copy-on-write) so that the closure does not overlap the
            // in-place update of `splits`; it is read only when a history point is taken.
            let lostByRun = self.lostByRun
            splits[splitKey, default: SplitStatistics(window: window, historyPoints: historyPoints)]
                .add(loss, decay: decay, at: time, runLost: { lostByRun[splitKey.run] ?? 0 })
        case .error(let error):
            splits[splitKey, default: SplitStatistics(window: window, historyPoints: historyPoints)].add(
                error, at: time)
        }
        return outcome
    }

    /// Counts a message that is not a valid v1 record (not JSON, another version, a missing field).
    public mutating func ingestInvalid(at time: Double) {
        records += 1
        invalid += 1
        rate.count(at: time)
    }

    /// Whether a record of these keys may be stored without exceeding `max_keys`.
    private func admits(_ splitKey: SplitKey, _ sourceKey: SourceKey?) -> Bool {
        if splits.count >= parameters.maxKeys, splits[splitKey] == nil { return false }
        if let sourceKey, sources.count >= parameters.maxKeys, sources[sourceKey] == nil { return false }
        return true
    }

    /// Counts every pending seq of every (run, source) as lost: what shutdown does (SPEC §6,
    /// "at shutdown, every gap"). Seqs that arrive later are taken off the lost count again.
    public mutating func countPendingAsLost() {
        for key in sources.keys {
            sources[key]?.countPendingAsLost()
        }
        recountLostByRun()
    }

    /// Sets ``lostByRun`` from the sources (after a bulk change or a restore).
    mutating func recountLostByRun() {
        lostByRun = [:]
        for (key, tracker) in sources where tracker.lost != 0 {
            lostByRun[key.run, default: 0] += tracker.lost
        }
    }
}

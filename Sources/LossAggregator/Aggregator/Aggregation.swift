public import LossWire

/// The aggregator's state as a plain value: statistics per (run, split), seq bookkeeping per
/// (run, source, stream), and totals (SPEC §6).
///
/// Not thread-safe by itself; ``Aggregator`` puts it behind a lock. Every method is O(1) per record
/// except when a seq jumps ahead, which costs at most the reorder window plus its memory, and
/// when a step closes, which costs its world size once.
///
/// Each (run, split) also keeps a bounded, downsampled history of its curves for the dashboard
/// (``HistoryBuffer``, ``history(at:)``); each point records the run's lost batches, which
/// ``lostByRun`` keeps current without summing the sources per record. Loss records that carry
/// `step`, `rank` and `world_size` are also put together by step (``StepTable``).
///
/// ``housekeeping(at:)``, called about once a second, closes steps whose timeout passed and
/// retires streams idle longer than `stream_idle`.
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
    /// Seq bookkeeping by (run, source), one tracker per stream, for records that carry a seq.
    var sources: [SourceKey: SourceAccount] = [:]
    /// Streams with an id tracked now, over every source (at most `max_streams`).
    var streamCount = 0
    /// Lost batches by run: the sum of ``SourceAccount/lost`` over the run's sources, kept in
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
    /// Divergence events not yet taken by the writer (never saved).
    var events: [DivergenceEvent] = []
    /// Divergence events dropped since the writer last took them (it logs the count).
    var droppedEvents = 0
    /// The record links' positions by link id (saved: the acks refer to them).
    var links: [String: LinkPosition] = [:]
    /// Records taken over record links since start (not saved): the writer saves when it moved.
    var linkRecords: UInt64 = 0

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
        let stream: String
        switch record {
        case .loss(let loss):
            guard loss.shape.batch >= 1 else {
                invalid += 1
                return .invalid
            }
            splitKey = SplitKey(run: loss.run, split: loss.split)
            source = loss.source
            seq = loss.seq
            stream = loss.stream ?? ""
        case .error(let error):
            let labels = error.labels
            splitKey = SplitKey(run: labels.run ?? "default", split: labels.split ?? "train")
            source = labels.source ?? ""
            seq = labels.seq
            stream = labels.stream ?? ""
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
            if !stream.isEmpty, sources[sourceKey]?.streams[stream] == nil {
                makeRoomForStream()
                streamCount += 1
            }
            var lostChange = 0
            let observation = sources[sourceKey, default: SourceAccount()].observe(
                trackedSeq, stream: stream, at: time, reorderWindow: parameters.reorderWindow, lostChange: &lostChange)
            if lostChange != 0 { lostByRun[splitKey.run, default: 0] += lostChange }
            switch observation {
            case .new: break
            case .late: outcome = .late
            case .duplicate: return .duplicate
            }
        }
        let window = parameters.window
        let historyPoints = parameters.historyPoints
        switch record {
        case .loss(let loss):
            // A copy (a reference, copy-on-write) so that the closure does not overlap the
            // in-place update of `splits`; it is read only when a history point is taken.
            let lostByRun = self.lostByRun
            let observation = Self.aggregate(
                loss, into: &splits[splitKey, default: SplitStatistics(window: window, historyPoints: historyPoints)],
                parameters: parameters, at: time, lost: lostByRun[splitKey.run] ?? 0,
                runLost: { lostByRun[splitKey.run] ?? 0 })
            raiseDivergence(observation, after: loss, of: splitKey, at: time)
        case .error(let error):
            splits[splitKey, default: SplitStatistics(window: window, historyPoints: historyPoints)].add(
                error, at: time)
            detectDivergence(after: error, of: splitKey, at: time)
        }
        return outcome
    }

    /// Aggregates a loss record into its split's statistics, groups it into its step and feeds
    /// the divergence detector, all in one in-place access to the statistics: each
    /// `splits[key]?.…` would move the whole ``SplitStatistics`` out of the dictionary and back
    /// (a copy with a retain and a release per array it holds), which cost a loss record more
    /// than everything else it adds up.
    private static func aggregate(
        _ loss: LossRecord, into statistics: inout SplitStatistics, parameters: AggregationParameters,
        at time: Double, lost: Int, runLost: () -> Int
    ) -> DivergenceObservation {
        statistics.add(loss, decay: parameters.emaDecay, at: time, runLost: runLost)
        if let step = loss.step, let rank = loss.rank, let worldSize = loss.worldSize {
            statistics.groupStep(
                loss, step: step, rank: rank, worldSize: worldSize, at: time, parameters: parameters, lost: lost)
        }
        return observeDivergence(after: loss, in: &statistics, rule: parameters.divergence)
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

    /// What must happen with time rather than with records, as of `time`: steps whose timeout
    /// passed are closed as partial, streams that sent nothing for `stream_idle` seconds are
    /// retired. Call it about once a second.
    public mutating func housekeeping(at time: Double) {
        let idleBefore = time - parameters.streamIdle
        var idle: [(key: SourceKey, stream: String)] = []
        for (key, account) in sources {
            for (stream, entry) in account.streams where !stream.isEmpty && entry.lastSeen < idleBefore {
                idle.append((key, stream))
            }
        }
        for (key, stream) in idle { retire(stream, of: key) }
        forgetLinks(idleBefore: idleBefore)
        let parameters = self.parameters
        let withOpenSteps = splits.compactMap { $0.value.steps.openCount > 0 ? $0.key : nil }
        for key in withOpenSteps {
            let lost = lostByRun[key.run] ?? 0
            splits[key]?.expireSteps(at: time, parameters: parameters, lost: lost)
            detectDivergenceInClosedSteps(of: key, at: time)
        }
    }

    /// The steps that changed since the last call, per (run, split) in order, noted as written.
    mutating func takeStepChanges() -> [(key: SplitKey, changes: StepChanges)] {
        let dirty = splits.compactMap { $0.value.steps.tensorBoard.dirtyFrom != nil ? $0.key : nil }.sorted()
        return dirty.compactMap { key in
            splits[key]?.steps.takeTensorBoardChanges().map { (key, $0) }
        }
    }

    /// Retires the stream idle longest when `max_streams` streams are tracked, to make room for a
    /// new one.
    private mutating func makeRoomForStream() {
        guard streamCount >= parameters.maxStreams else { return }
        var oldest: (key: SourceKey, stream: String, lastSeen: Double)?
        for (key, account) in sources {
            for (stream, entry) in account.streams where !stream.isEmpty {
                if oldest.map({ entry.lastSeen < $0.lastSeen }) ?? true { oldest = (key, stream, entry.lastSeen) }
            }
        }
        if let oldest { retire(oldest.stream, of: oldest.key) }
    }

    private mutating func retire(_ stream: String, of key: SourceKey) {
        guard let lostChange = sources[key]?.retire(stream) else { return }
        streamCount -= 1
        if lostChange != 0 { lostByRun[key.run, default: 0] += lostChange }
    }

    /// Sets ``lostByRun`` and ``streamCount`` from the sources (after a bulk change or a restore).
    mutating func recountLostByRun() {
        lostByRun = [:]
        streamCount = 0
        for (key, account) in sources {
            let lost = account.lost
            if lost != 0 { lostByRun[key.run, default: 0] += lost }
            streamCount += account.namedStreams
        }
    }
}

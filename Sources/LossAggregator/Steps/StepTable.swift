import LossWire

/// The steps of one (run, split): the loss records of a data-parallel job put together by `step`,
/// one record per rank (docs/DISTRIBUTED.md).
///
/// Only loss records that carry `step`, `rank` and `world_size` take part. A step is **complete**
/// when each of its `world_size` ranks has a record; it is closed as **partial** when its timeout
/// passes first, or when it is the oldest of more than `open_steps` open steps. A later record
/// of a rank replaces that rank's earlier one (a step's figures always come from the latest
/// record of each rank), and a closed step that changes is closed again.
///
/// **Resuming.** When a rank's records switch to a new stream (a restarted process) at a step at
/// or below the highest step it has recorded, that is a resume from a checkpoint. With the
/// `replace` policy the rank's records of that step and later ones are withdrawn: a step left
/// without records disappears (a whole job that resumes rewrites its history, as TensorBoard
/// purges after a restart), a step that keeps other ranks' records waits for the rank's new one
/// (a rank that restarts alone rewrites only its own part). With `keep`, the steps already
/// recorded stay as they are. Records of a stream the rank left that arrive late (they were in
/// flight when it restarted) count only for steps below the one its successor took over from.
///
/// Memory is bounded: at most `step_history` steps, and at most ``maxContributions`` rank records
/// in all; the oldest steps go first. Cost per record: a few dictionary operations; closing a
/// step is O(world size) once.
struct StepTable: Sendable, Hashable {
    /// The largest `world_size` grouped; records of larger jobs are counted as dropped.
    static let maxRanks = 65_536
    /// The most rank records kept over every step of one (run, split).
    static let maxContributions = 1 << 20

    /// The steps kept, by step.
    private(set) var entries: [Int: StepEntry] = [:]
    /// The steps kept, in ascending order.
    private(set) var order: [Int] = []
    /// The open steps.
    private(set) var open: Set<Int> = []
    /// Each rank's current stream and the highest step it recorded on it, to see resumes.
    var timelines: [Int: RankTimeline] = [:]
    /// Counts of what happened to steps and their records.
    var counters = StepCounters()
    /// What the TensorBoard writer has written and what it still has to.
    var tensorBoard = TensorBoardCursor()
    /// Rank records over every kept step.
    private(set) var contributionCount = 0
    /// Steps closed since ``takeClosed()`` was last called, in the order they closed, with their
    /// `mean` loss (nil when it is not finite): what divergence detection reads. Never saved: the
    /// aggregation takes them under the same lock as the record that closed them.
    private(set) var closed: [ClosedStep] = []

    /// A step that went from open to closed, and its `mean` loss.
    struct ClosedStep: Sendable, Hashable {
        /// The step.
        var step: Int
        /// Its batch-size-weighted mean loss across ranks; nil when it is not finite.
        var meanLoss: Double?
    }

    /// The steps closed since the last call, in the order they closed.
    mutating func takeClosed() -> [ClosedStep] {
        defer { closed.removeAll() }
        return closed
    }

    /// A rank's current stream, and the streams it left.
    struct RankTimeline: Sendable, Hashable {
        /// The most earlier streams remembered per rank.
        static let maxEarlier = 8

        /// The stream of its latest records.
        var stream: String
        /// The highest step it recorded on that stream (or on the streams it continues).
        var highest: Int
        /// Streams the rank left (the latest last), each with the step from which later streams
        /// took over: records of one that arrive late (in flight when the rank restarted) count
        /// below that step and are dropped from it on, instead of being taken for a resume.
        var earlier: [Handover] = []

        /// Leaves the current stream for `next`, whose records count from step `from` on.
        mutating func hand(to next: String, from: Int, highest: Int) {
            earlier.removeAll { $0.stream == next }
            for index in earlier.indices { earlier[index].from = min(earlier[index].from, from) }
            earlier.append(Handover(stream: stream, from: from))
            if earlier.count > Self.maxEarlier { earlier.removeFirst(earlier.count - Self.maxEarlier) }
            stream = next
            self.highest = highest
        }

        /// The step from which `stream`'s records were taken over, when the rank left it.
        func takenOver(_ stream: String) -> Int? {
            earlier.last { $0.stream == stream }?.from
        }
    }

    /// A stream a rank left, and the step from which later streams took over.
    struct Handover: Sendable, Hashable {
        /// The stream left.
        var stream: String
        /// Its records of this step and later ones are superseded.
        var from: Int
    }

    /// Whether nothing was ever grouped here.
    var isEmpty: Bool { order.isEmpty && counters == StepCounters() }

    /// Groups one loss record into its step.
    ///
    /// - Parameters:
    ///   - lost: the run's lost batches now, kept with a step when it closes.
    ///   - errors: the split's error records now, kept with a step when it closes.
    mutating func add(
        _ record: LossRecord, step: Int, rank: Int, worldSize: Int, at time: Double,
        parameters: AggregationParameters, lost: Int, errors: Int
    ) {
        guard worldSize <= Self.maxRanks, step >= 0, rank >= 0, rank < worldSize else {
            counters.dropped += 1
            return
        }
        let context = CloseContext(time: time, parameters: parameters, lost: lost, errors: errors)
        guard let stream = follow(rank: rank, stream: record.stream ?? "", step: step, context: context) else {
            counters.dropped += 1
            return
        }
        if entries[step] == nil {
            if order.count >= parameters.stepHistory, let lowest = order.first, step < lowest {
                counters.dropped += 1
                return
            }
            insert(step, StepEntry(worldSize: worldSize, status: .open(deadline: time + parameters.stepTimeout)))
        }
        let contribution = StepContribution(record, stream: stream, worldSize: worldSize)
        let keepsEarlier = parameters.resume == .keep
        // How many records the new one displaced, or nil when `keep` keeps the earlier one.
        let displaced = modify(step) { entry -> Int? in
            var displaced = 0
            if entry.worldSize != worldSize {
                // The job changed size: records of the other size no longer describe this step.
                let before = entry.contributions.count
                entry.contributions = entry.contributions.filter { $0.value.worldSize == worldSize }
                displaced += before - entry.contributions.count
                entry.worldSize = worldSize
            }
            if let existing = entry.contributions[rank] {
                if keepsEarlier && existing.stream != stream { return nil }
                displaced += 1
            }
            entry.contributions[rank] = contribution
            return displaced
        }
        guard let displaced = displaced ?? nil else {
            counters.dropped += 1
            return
        }
        counters.replaced += displaced
        contributionCount += 1 - displaced
        settle(step, context: context)
        enforceBounds(context: context)
    }

    /// Closes as partial every open step whose timeout has passed by `time`.
    mutating func expire(at time: Double, parameters: AggregationParameters, lost: Int, errors: Int) {
        guard !open.isEmpty else { return }
        let context = CloseContext(time: time, parameters: parameters, lost: lost, errors: errors)
        let due = open.filter { step in
            if case .open(let deadline)? = entries[step]?.status { return deadline <= time }
            return false
        }
        for step in due.sorted() { closePartial(step, context: context) }
    }

    /// The number of steps that wait for ranks.
    var openCount: Int { open.count }

    /// The complete step with the highest step number.
    var lastComplete: (step: Int, entry: StepEntry)? {
        for step in order.reversed() {
            if let entry = entries[step], entry.isComplete { return (step, entry) }
        }
        return nil
    }

    // MARK: - Following ranks across restarts

    /// Notes that `rank` sent `step` on `stream`, handling a resume; returns the stream to store
    /// (the timeline's own string when equal, so records share one copy), or nil when the
    /// record is not grouped: the rank cannot be followed (too many ranks), or the record is a
    /// late one of a stream the rank left, for a step its successor took over.
    private mutating func follow(rank: Int, stream: String, step: Int, context: CloseContext) -> String? {
        guard let timeline = timelines[rank] else {
            guard timelines.count < Self.maxRanks else { return nil }
            timelines[rank] = RankTimeline(stream: stream, highest: step)
            return stream
        }
        if timeline.stream == stream {
            timelines[rank]?.highest = max(timeline.highest, step)
            return timeline.stream
        }
        if let from = timeline.takenOver(stream) {
            // A late record of a stream the rank left (in flight when it restarted): it still
            // counts for a step below the one its successor took over from, never above.
            return step < from ? stream : nil
        }
        guard step <= timeline.highest else {
            // A new stream that goes on past everything the rank recorded: nothing to replace.
            timelines[rank]?.hand(to: stream, from: step, highest: step)
            return stream
        }
        counters.resumes += 1
        switch context.parameters.resume {
        case .replace:
            withdraw(rank: rank, from: step, keeping: stream, context: context)
            timelines[rank]?.hand(to: stream, from: step, highest: step)
        case .keep:
            // The steps recorded stay; the new stream's records count from the next one on.
            timelines[rank]?.hand(to: stream, from: timeline.highest + 1, highest: timeline.highest)
        }
        return stream
    }

    /// Withdraws `rank`'s records of other streams from `step` on: an emptied step goes, a
    /// closed step that keeps other ranks' records waits for the rank again.
    private mutating func withdraw(rank: Int, from step: Int, keeping stream: String, context: CloseContext) {
        let affected = order[lowerBound(step)...].filter {
            entries[$0]?.contributions[rank].map { $0.stream != stream } ?? false
        }
        var emaFrom: Int?
        for affectedStep in affected {
            let outcome = modify(affectedStep) { entry -> (wasClosed: Bool, wasComplete: Bool, empty: Bool) in
                entry.contributions[rank] = nil
                let wasClosed = !entry.isOpen
                let wasComplete = entry.isComplete
                if !entry.contributions.isEmpty && wasClosed {
                    entry.status = .open(deadline: context.time + context.parameters.stepTimeout)
                    entry.figures = nil
                    entry.ema = nil
                    entry.closedAt = nil
                }
                return (wasClosed, wasComplete, entry.contributions.isEmpty)
            }
            guard let outcome else { continue }
            counters.replaced += 1
            contributionCount -= 1
            if outcome.wasComplete && emaFrom == nil { emaFrom = affectedStep }
            if outcome.empty {
                remove(affectedStep)
            } else if outcome.wasClosed {
                open.insert(affectedStep)
            }
            if outcome.wasClosed { tensorBoard.mark(affectedStep) }
        }
        if let emaFrom { refreshEMA(from: emaFrom, decay: context.parameters.emaDecay) }
    }

    // MARK: - Closing

    /// What closing a step needs to know.
    private struct CloseContext {
        var time: Double
        var parameters: AggregationParameters
        var lost: Int
        var errors: Int
    }

    /// After a record changed `step`: complete it when every rank is there, refresh a closed
    /// step's figures.
    private mutating func settle(_ step: Int, context: CloseContext) {
        guard let entry = entries[step] else { return }
        if entry.contributions.count >= entry.worldSize {
            if !entry.isComplete { counters.complete += 1 }
            open.remove(step)
            let figures = modify(step) { entry in
                entry.status = .complete
                Self.close(&entry, context: context)
                return entry.figures
            }
            if entry.isOpen { closed.append(ClosedStep(step: step, meanLoss: figures??.mean.loss)) }
            tensorBoard.mark(step)
            refreshEMA(from: step, decay: context.parameters.emaDecay)
        } else if !entry.isOpen {
            // A partial step that received a missing rank's record: still partial, new figures.
            modify(step) { entry in Self.close(&entry, context: context) }
            tensorBoard.mark(step)
        }
    }

    private mutating func closePartial(_ step: Int, context: CloseContext) {
        guard entries[step]?.isOpen == true else { return }
        open.remove(step)
        counters.partial += 1
        let figures = modify(step) { entry in
            entry.status = .partial
            Self.close(&entry, context: context)
            return entry.figures
        }
        closed.append(ClosedStep(step: step, meanLoss: figures??.mean.loss))
        tensorBoard.mark(step)
    }

    private static func close(_ entry: inout StepEntry, context: CloseContext) {
        entry.figures = StepFigures(entry.contributions)
        entry.closedAt = context.time
        entry.lost = context.lost
        entry.errors = context.errors
    }

    /// Keeps at most `open_steps` open steps (closing the oldest as partial), at most
    /// `step_history` steps and ``maxContributions`` records (dropping the oldest steps).
    private mutating func enforceBounds(context: CloseContext) {
        while open.count > context.parameters.openSteps, let oldest = open.min() {
            closePartial(oldest, context: context)
        }
        while order.count > 1,
            order.count > context.parameters.stepHistory || contributionCount > Self.maxContributions
        {
            let oldest = order[0]
            if entries[oldest]?.isOpen == true { closePartial(oldest, context: context) }
            contributionCount -= entries[oldest]?.contributions.count ?? 0
            remove(oldest)
        }
    }

    /// Recomputes the EMA of every complete step from `step` on, from the complete step before it.
    private mutating func refreshEMA(from step: Int, decay: Double) {
        let start = lowerBound(step)
        var base = StepEMA()
        for index in stride(from: start - 1, through: 0, by: -1) {
            if let entry = entries[order[index]], entry.isComplete, let ema = entry.ema {
                base = ema
                break
            }
        }
        for index in start..<order.count {
            let current = order[index]
            guard let entry = entries[current], entry.isComplete, let figures = entry.figures else { continue }
            let next = base.advanced(by: figures.pooled, decay: decay)
            if entry.ema != next {
                modify(current) { $0.ema = next }
                tensorBoard.mark(current)
            }
            base = next
        }
    }

    // MARK: - Storage

    /// Mutates the entry of `step` in place (it is taken out of the dictionary meanwhile, so its
    /// records are never copied); nil when there is no such step.
    @discardableResult
    private mutating func modify<Result>(_ step: Int, _ body: (inout StepEntry) -> Result) -> Result? {
        guard var entry = entries.removeValue(forKey: step) else { return nil }
        defer { entries[step] = entry }
        return body(&entry)
    }

    /// The index of the first kept step ≥ `step`.
    private func lowerBound(_ step: Int) -> Int {
        var low = 0
        var high = order.count
        while low < high {
            let middle = (low + high) / 2
            if order[middle] < step { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private mutating func insert(_ step: Int, _ entry: StepEntry) {
        entries[step] = entry
        if order.last.map({ $0 < step }) ?? true {
            order.append(step)
        } else {
            order.insert(step, at: lowerBound(step))
        }
        if entry.isOpen { open.insert(step) }
    }

    private mutating func remove(_ step: Int) {
        entries[step] = nil
        open.remove(step)
        let index = lowerBound(step)
        if index < order.count, order[index] == step { order.remove(at: index) }
    }

    /// Restores the steps of a saved state, with their figures recomputed from the records.
    init(
        entries: [Int: StepEntry], timelines: [Int: RankTimeline], counters: StepCounters,
        tensorBoard: TensorBoardCursor
    ) {
        self.timelines = timelines
        self.counters = counters
        self.tensorBoard = tensorBoard
        for (step, entry) in entries.sorted(by: { $0.key < $1.key }) {
            var restored = entry
            if !restored.isOpen { restored.figures = StepFigures(restored.contributions) }
            insert(step, restored)
            contributionCount += restored.contributions.count
        }
    }

    /// An empty table.
    init() {}
}

/// What happened to the steps of a (run, split) and their records since the aggregation started.
/// Each count only goes up.
struct StepCounters: Sendable, Hashable {
    /// Times a step was closed complete (again, after a resume replaced records of it).
    var complete = 0
    /// Times a step was closed with ranks missing.
    var partial = 0
    /// Resumes seen: a rank's records switched to a new stream at a step it had recorded.
    var resumes = 0
    /// Rank records replaced by a later record of the same rank, or withdrawn by a resume.
    var replaced = 0
    /// Records not grouped: older than every kept step, kept out by the `keep` policy, or of a
    /// job larger than ``StepTable/maxRanks``.
    var dropped = 0
}

/// Where the TensorBoard writer stands for one (run, split): steps up to ``writtenThrough`` are
/// in the event files; ``dirtyFrom`` is the lowest step that changed since the last write.
struct TensorBoardCursor: Sendable, Hashable {
    /// The highest step written (or an upper bound of it), nil before any.
    var writtenThrough: Int?
    /// The lowest step that changed since the last write, nil when nothing did.
    var dirtyFrom: Int?
    /// Whether the next write must start with a restart marker even when it only appends (the
    /// event files may hold steps this state does not know: a restart from a saved state).
    var mustPurge = false

    /// Notes that `step` changed.
    mutating func mark(_ step: Int) {
        dirtyFrom = min(dirtyFrom ?? step, step)
    }
}

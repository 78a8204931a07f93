/// One step of a (run, split) at one moment: what `/stats` lists under `steps`, the dashboard
/// charts and the TensorBoard event files hold.
public struct StepSnapshot: Sendable, Hashable {
    /// Where a step stands.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Waiting for ranks; it has no figures yet.
        case open
        /// Every rank has a record.
        case complete
        /// Closed with ranks missing; its figures describe the ranks that arrived.
        case partial
    }

    /// The step number.
    public var step: Int
    /// Open, complete or partial.
    public var status: Status
    /// The `world_size` of its records.
    public var worldSize: Int
    /// The ranks that have a record.
    public var ranks: Int
    /// Σ B over those records.
    public var samples: Int
    /// The loss of the ranks' batches taken together, each rank's mining as it was (nil values
    /// while open, or when the records cannot be pooled).
    public var pooled: StepValues
    /// The batch-size-weighted mean of the ranks' losses (nil values while open).
    public var mean: StepValues
    /// The EMA of `pooled` over the complete steps up to this one (complete steps only).
    public var ema: StepValues
    /// The run's lost batches when the step closed.
    public var lost: Int?
    /// The split's error records when the step closed.
    public var errors: Int?
    /// When the step closed, seconds since the Unix epoch.
    public var time: Double?

    /// A step as given.
    public init(
        step: Int, status: Status, worldSize: Int, ranks: Int, samples: Int, pooled: StepValues,
        mean: StepValues, ema: StepValues, lost: Int?, errors: Int?, time: Double?
    ) {
        self.step = step
        self.status = status
        self.worldSize = worldSize
        self.ranks = ranks
        self.samples = samples
        self.pooled = pooled
        self.mean = mean
        self.ema = ema
        self.lost = lost
        self.errors = errors
        self.time = time
    }

    init(step: Int, _ entry: StepEntry) {
        let status: Status
        switch entry.status {
        case .open: status = .open
        case .complete: status = .complete
        case .partial: status = .partial
        }
        let closed = status != .open
        self.init(
            step: step, status: status, worldSize: entry.worldSize, ranks: entry.contributions.count,
            samples: entry.contributions.values.reduce(0) { $0 + $1.batch },
            pooled: entry.figures?.pooled ?? .none, mean: entry.figures?.mean ?? .none,
            ema: entry.ema?.values ?? .none, lost: closed ? entry.lost : nil, errors: closed ? entry.errors : nil,
            time: entry.closedAt)
    }
}

/// The step counts of a (run, split) at one moment.
public struct StepCounts: Sendable, Hashable {
    /// Steps waiting for ranks now.
    public var open: Int
    /// Times a step was closed complete.
    public var complete: Int
    /// Times a step was closed with ranks missing.
    public var partial: Int
    /// Resumes seen (a rank's new stream at a step it had recorded).
    public var resumes: Int
    /// Rank records replaced by a later one or withdrawn by a resume.
    public var replaced: Int
    /// Records not grouped (older than every kept step, kept out by `keep`, or too many ranks).
    public var dropped: Int

    /// Counts as given.
    public init(
        open: Int = 0, complete: Int = 0, partial: Int = 0, resumes: Int = 0, replaced: Int = 0, dropped: Int = 0
    ) {
        self.open = open
        self.complete = complete
        self.partial = partial
        self.resumes = resumes
        self.replaced = replaced
        self.dropped = dropped
    }

    init(_ table: StepTable) {
        let counters = table.counters
        self.init(
            open: table.openCount, complete: counters.complete, partial: counters.partial, resumes: counters.resumes,
            replaced: counters.replaced, dropped: counters.dropped)
    }
}

/// What the TensorBoard writer has to write for one (run, split).
struct StepChanges: Sendable {
    /// Where to put a restart marker first (TensorBoard then drops every step from there on),
    /// or nil to append.
    var purgeFrom: Int?
    /// Every closed step from the lowest changed one on, in step order.
    var steps: [StepSnapshot]
}

extension StepTable {
    /// The last `count` steps (by step number), oldest first.
    func snapshots(last count: Int) -> [StepSnapshot] {
        order.suffix(max(0, count)).compactMap { step in entries[step].map { StepSnapshot(step: step, $0) } }
    }

    /// The complete step with the highest step number, as a snapshot.
    var lastCompleteSnapshot: StepSnapshot? {
        lastComplete.map { StepSnapshot(step: $0.step, $0.entry) }
    }

    /// Takes what changed since the last call, for the TensorBoard writer, and notes it written.
    mutating func takeTensorBoardChanges() -> StepChanges? {
        guard let from = tensorBoard.dirtyFrom else { return nil }
        let purge = tensorBoard.mustPurge || (tensorBoard.writtenThrough.map { from <= $0 } ?? false)
        let steps = order.filter { $0 >= from }.compactMap { step -> StepSnapshot? in
            guard let entry = entries[step], !entry.isOpen else { return nil }
            return StepSnapshot(step: step, entry)
        }
        var through = purge ? min(tensorBoard.writtenThrough ?? (from - 1), from - 1) : tensorBoard.writtenThrough
        if let last = steps.last?.step { through = max(through ?? last, last) }
        tensorBoard = TensorBoardCursor(writtenThrough: through, dirtyFrom: nil, mustPurge: false)
        return StepChanges(purgeFrom: purge ? from : nil, steps: steps)
    }
}

public import LossWire

/// What the aggregator knows about one (run, split) at one moment.
public struct SplitSnapshot: Sendable, Hashable {
    /// The run.
    public var run: String
    /// The split.
    public var split: String
    /// Loss records aggregated.
    public var batches: Int
    /// Images in them (the sum of batch sizes).
    public var samples: Int
    /// Loss records per second over about the last 10 s.
    public var batchesPerSecond: Double
    /// Mean positives (n_pos) per batch.
    public var positivesPerBatch: Double?
    /// Mean mined negatives per batch.
    public var negativesPerBatch: Double?
    /// Batches whose loss, classification or localization was NaN or infinite.
    public var nonfinite: Int
    /// Batches of an earlier epoch that arrived after a later one had started.
    public var staleEpochBatches: Int
    /// The current epoch, once a record named one.
    public var epoch: Int?
    /// The epoch that `lastEpochMean` describes.
    public var lastEpoch: Int?
    /// The latest `step` seen.
    public var step: Int?
    /// When the latest record arrived, in seconds since the Unix epoch.
    public var lastRecordTime: Double?
    /// How many error records one code had.
    public struct ErrorCount: Sendable, Hashable {
        /// The error code.
        public var code: ErrorCode
        /// Error records with that code.
        public var count: Int
    }

    /// Error records by code, only codes that occurred, sorted by code.
    public var errors: [ErrorCount]
    /// The `loss` statistics.
    public var loss: ComponentSnapshot
    /// The `classification` statistics.
    public var classification: ComponentSnapshot
    /// The `localization` statistics.
    public var localization: ComponentSnapshot
    /// The latest steps (by step number, oldest first) of the records that carry `step`, `rank`
    /// and `world_size`; empty when there are none.
    public var steps: [StepSnapshot]
    /// The complete step with the highest step number.
    public var lastCompleteStep: StepSnapshot?
    /// What happened to the steps.
    public var stepCounts: StepCounts
    /// Whether the split is diverging (docs/DIAGNOSTICS.md).
    public var divergence: DivergenceStatus
    /// The loss records' per-batch diagnostics, with the loss per class.
    public var diagnostics: DiagnosticSnapshot
    /// Non-finite input values of the error records by tensor and kind, sorted by tensor, then kind.
    public var nonfiniteValues: [NonfiniteValueCount]

    /// The three components by name: loss, classification, localization.
    public var components: [(name: String, statistics: ComponentSnapshot)] {
        [("loss", loss), ("classification", classification), ("localization", localization)]
    }

    /// Error records of every code together.
    public var errorCount: Int { errors.reduce(0) { $0 + $1.count } }

    /// The default number of steps a snapshot lists per (run, split).
    public static let defaultStepCount = 10

    init(key: SplitKey, _ statistics: SplitStatistics, at time: Double, steps stepCount: Int) {
        run = key.run
        split = key.split
        batches = statistics.batches
        samples = statistics.samples
        batchesPerSecond = statistics.rate.rate(at: time)
        positivesPerBatch = statistics.batches > 0 ? statistics.positivesSum / Double(statistics.batches) : nil
        negativesPerBatch = statistics.batches > 0 ? Double(statistics.negativesSum) / Double(statistics.batches) : nil
        nonfinite = statistics.nonfinite
        staleEpochBatches = statistics.staleEpochBatches
        epoch = statistics.epoch
        lastEpoch = statistics.lastEpoch
        step = statistics.step
        lastRecordTime = statistics.lastRecordTime
        errors = statistics.errors.map { ErrorCount(code: $0.key, count: $0.value) }.sorted {
            $0.code.rawValue < $1.code.rawValue
        }
        loss = ComponentSnapshot(statistics.loss, window: statistics.window, index: 0)
        classification = ComponentSnapshot(statistics.classification, window: statistics.window, index: 1)
        localization = ComponentSnapshot(statistics.localization, window: statistics.window, index: 2)
        steps = statistics.steps.snapshots(last: stepCount)
        lastCompleteStep = statistics.steps.lastCompleteSnapshot
        stepCounts = StepCounts(statistics.steps)
        divergence = DivergenceStatus(statistics.divergence)
        diagnostics = DiagnosticSnapshot(statistics.diagnostics)
        nonfiniteValues = statistics.nonfiniteValues.counts.sorted { $0.key < $1.key }.map {
            NonfiniteValueCount(tensor: $0.key.tensor, kind: $0.key.kind, count: $0.value)
        }
    }
}

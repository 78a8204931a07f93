/// The statistics of one loss component of one (run, split) at one moment; nil where there is no
/// value yet (no finite value seen, or an empty epoch).
public struct ComponentSnapshot: Sendable, Hashable {
    /// Batch-size-weighted mean since start (the Keras epoch average over the whole run).
    public var mean: Double?
    /// Debiased EMA, one step per batch: `ema_t / (1 − d^t)`.
    public var ema: Double?
    /// Batch-size-weighted mean of the latest `window` batches.
    public var window: Double?
    /// The latest batch's value (NaN or ±Inf when that batch's value was not finite).
    public var last: Double?
    /// The smallest value seen.
    public var min: Double?
    /// The largest value seen.
    public var max: Double?
    /// Batch-size-weighted mean of the current epoch.
    public var epochMean: Double?
    /// Batch-size-weighted mean of the epoch before.
    public var lastEpochMean: Double?

    /// The statistics by their SPEC names, in a fixed order: mean, ema, window, last, min, max,
    /// epoch_mean, last_epoch_mean.
    public var named: [(name: String, value: Double?)] {
        [
            ("mean", mean), ("ema", ema), ("window", window), ("last", last), ("min", min), ("max", max),
            ("epoch_mean", epochMean), ("last_epoch_mean", lastEpochMean),
        ]
    }

    /// Statistics as given (e.g. read back from a snapshot); nil where there is no value.
    public init(
        mean: Double? = nil, ema: Double? = nil, window: Double? = nil, last: Double? = nil, min: Double? = nil,
        max: Double? = nil, epochMean: Double? = nil, lastEpochMean: Double? = nil
    ) {
        self.mean = mean
        self.ema = ema
        self.window = window
        self.last = last
        self.min = min
        self.max = max
        self.epochMean = epochMean
        self.lastEpochMean = lastEpochMean
    }

    init(_ statistics: ComponentStatistics, window: BatchWindow, index: Int) {
        mean = statistics.mean
        ema = statistics.ema
        self.window = window.mean(index)
        last = statistics.last
        min = statistics.minimum
        max = statistics.maximum
        epochMean = statistics.epochMean
        lastEpochMean = statistics.lastEpochMean
    }
}

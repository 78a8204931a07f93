/// One point of a (run, split)'s loss history: where the curves were after `batches` batches.
///
/// A stored point describes a bucket of `stride` batches starting at `batches`: its `mean`, `ema`
/// and `window` are those right after that first batch, its `low` and `high` span every batch of
/// the bucket. The last point of a series is the live one: the statistics as of now, without an
/// envelope. ``HistoryBuffer`` explains the downsampling.
public struct HistoryPoint: Sendable, Hashable {
    /// The split's batch count at this point: the charts' x.
    public var batches: Int
    /// The latest `step` seen at this point, if records carry one.
    public var step: Int?
    /// When the point was taken, in seconds since the Unix epoch.
    public var time: Double
    /// Error records of the (run, split) so far.
    public var errors: Int
    /// Batches of the run counted lost so far (all its sources together).
    public var lost: Int
    /// The `loss` curves.
    public var loss: HistoryValues
    /// The `classification` curves.
    public var classification: HistoryValues
    /// The `localization` curves.
    public var localization: HistoryValues

    /// A point with every figure given.
    public init(
        batches: Int, step: Int?, time: Double, errors: Int, lost: Int,
        loss: HistoryValues, classification: HistoryValues, localization: HistoryValues
    ) {
        self.batches = batches
        self.step = step
        self.time = time
        self.errors = errors
        self.lost = lost
        self.loss = loss
        self.classification = classification
        self.localization = localization
    }
}

/// The curves of one loss component at one history point; nil where there is no value yet.
public struct HistoryValues: Sendable, Hashable {
    /// The batch-size-weighted mean since start.
    public var mean: Double?
    /// The debiased EMA.
    public var ema: Double?
    /// The mean of the latest `window` batches.
    public var window: Double?
    /// The smallest per-batch value of the point's bucket (nil for the live point).
    public var low: Double?
    /// The largest per-batch value of the point's bucket (nil for the live point).
    public var high: Double?

    /// Values as given.
    public init(mean: Double? = nil, ema: Double? = nil, window: Double? = nil, low: Double? = nil, high: Double? = nil)
    {
        self.mean = mean
        self.ema = ema
        self.window = window
        self.low = low
        self.high = high
    }
}

extension HistorySample {
    /// The public form of this point.
    var point: HistoryPoint {
        func values(_ lane: Int) -> HistoryValues {
            HistoryValues(
                mean: Self.finite(mean[lane]), ema: Self.finite(ema[lane]), window: Self.finite(window[lane]),
                low: Self.finite(low[lane]), high: Self.finite(high[lane]))
        }
        return HistoryPoint(
            batches: batches, step: step, time: time, errors: errors, lost: lost,
            loss: values(0), classification: values(1), localization: values(2))
    }

    /// `value` as a Double, or nil when it is NaN or infinite (no value).
    static func finite(_ value: Float) -> Double? {
        value.isFinite ? Double(value) : nil
    }

    /// A lane value from an optional statistic: NaN when absent or not finite.
    static func lane(_ value: Double?) -> Float {
        guard let value, value.isFinite else { return .nan }
        return Float(value)
    }
}

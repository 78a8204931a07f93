/// The classification loss of one class of one (run, split) at one moment: the loss per positive
/// anchor of the class (`classification_sum / positives` of the loss records' `diagnostics`).
public struct ClassSnapshot: Sendable, Hashable {
    /// The class index, 1…C−1.
    public var classIndex: Int
    /// Batches in which the class had positives.
    public var batches: Int
    /// Σ positives of the class since start.
    public var positives: Double
    /// Σ classification loss / Σ positives since start.
    public var mean: Double?
    /// Debiased EMA of the loss per positive, one step per batch in which the class had positives.
    public var ema: Double?
    /// Σ classification loss / Σ positives over the split's `window` latest batches; nil when the
    /// class had no positives in them.
    public var window: Double?
    /// Σ positives of the class over the window's batches.
    public var windowPositives: Double
    /// The latest batch's loss per positive of the class.
    public var last: Double?

    /// Figures as given (e.g. read back from a snapshot).
    public init(
        classIndex: Int, batches: Int = 0, positives: Double = 0, mean: Double? = nil, ema: Double? = nil,
        window: Double? = nil, windowPositives: Double = 0, last: Double? = nil
    ) {
        self.classIndex = classIndex
        self.batches = batches
        self.positives = positives
        self.mean = mean
        self.ema = ema
        self.window = window
        self.windowPositives = windowPositives
        self.last = last
    }

    /// The figures by their JSON and metric names, in a fixed order: mean, ema, window, last.
    public var named: [(name: String, value: Double?)] {
        [("mean", mean), ("ema", ema), ("window", window), ("last", last)]
    }
}

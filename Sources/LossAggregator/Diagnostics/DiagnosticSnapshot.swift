/// The per-batch diagnostics of one (run, split) at one moment (docs/DIAGNOSTICS.md).
public struct DiagnosticSnapshot: Sendable, Hashable {
    /// Loss records that carried diagnostics (0 for a sidecar that predates them).
    public var batches: Int
    /// Images without positives over every batch with diagnostics.
    public var imagesWithoutPositives: Int
    /// The latest batch's largest share of one image's anchors that are positive (n_pos_b / N).
    public var lastMaxPositiveShare: Double?
    /// Batches with diagnostics among the split's `window` latest batches.
    public var windowBatches: Int
    /// Images without positives in the window's batches.
    public var windowImagesWithoutPositives: Int
    /// The largest `max_positive_share` of one batch of the window.
    public var windowMaxPositiveShare: Double?
    /// Class figures not kept (an index outside 1…C−1, or past the most classes kept).
    public var droppedClasses: Int
    /// The classes seen, ascending by index.
    public var classes: [ClassSnapshot]

    /// Figures as given; the defaults describe a split whose records never carried diagnostics.
    public init(
        batches: Int = 0, imagesWithoutPositives: Int = 0, lastMaxPositiveShare: Double? = nil, windowBatches: Int = 0,
        windowImagesWithoutPositives: Int = 0, windowMaxPositiveShare: Double? = nil, droppedClasses: Int = 0,
        classes: [ClassSnapshot] = []
    ) {
        self.batches = batches
        self.imagesWithoutPositives = imagesWithoutPositives
        self.lastMaxPositiveShare = lastMaxPositiveShare
        self.windowBatches = windowBatches
        self.windowImagesWithoutPositives = windowImagesWithoutPositives
        self.windowMaxPositiveShare = windowMaxPositiveShare
        self.droppedClasses = droppedClasses
        self.classes = classes
    }

    init(_ statistics: DiagnosticStatistics) {
        let totals = statistics.window.totals
        self.init(
            batches: statistics.batches, imagesWithoutPositives: statistics.imagesWithoutPositives,
            lastMaxPositiveShare: statistics.lastMaxPositiveShare, windowBatches: totals.batches,
            windowImagesWithoutPositives: totals.imagesWithoutPositives,
            windowMaxPositiveShare: totals.maxPositiveShare, droppedClasses: statistics.droppedClasses,
            classes: statistics.classes.ordered.map { index, figures in
                let window = totals.classes[index]
                return ClassSnapshot(
                    classIndex: index, batches: figures.batches, positives: figures.positives,
                    mean: figures.loss.mean, ema: figures.loss.ema,
                    window: window.flatMap { $0.positives > 0 ? $0.classificationSum / $0.positives : nil },
                    windowPositives: window?.positives ?? 0, last: figures.loss.last)
            })
    }

    /// The `count` classes with the largest EMA of the loss per positive, largest first (ties by
    /// class index): what the dashboard's "loss by class" panel lists.
    public func largestClasses(_ count: Int) -> [ClassSnapshot] {
        let ranked = classes.filter { $0.ema != nil }.sorted {
            ($0.ema ?? 0, -$0.classIndex) > ($1.ema ?? 0, -$1.classIndex)
        }
        return Array(ranked.prefix(count))
    }
}

/// How many non-finite input values one tensor held of one kind.
public struct NonfiniteValueCount: Sendable, Hashable {
    /// The tensor (`y_true`, `y_pred`, `gt_offsets`, `scores`, `pred_offsets`, or `other`).
    public var tensor: String
    /// The kind (`class_score`, `gt_class`, `gt_offset`, `pred_offset`, `anchor`, `unknown` for
    /// records that give counts per tensor only, or `other`).
    public var kind: String
    /// The values counted.
    public var count: Int

    /// A count as given.
    public init(tensor: String, kind: String, count: Int) {
        self.tensor = tensor
        self.kind = kind
        self.count = count
    }
}

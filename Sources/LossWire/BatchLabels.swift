/// The grouping labels of a batch, as far as they could be read from its header.
///
/// Every field is optional: an error record carries only the labels that were read before
/// validation failed. For a header that parsed as a JSON object, `run`, `split` and `source` hold
/// their protocol defaults (`default`, `train`, `""`) when the header omits them.
public struct BatchLabels: Sendable, Hashable {
    /// The training run (`run`).
    public var run: String?
    /// The data split (`split`), e.g. `train` or `val`.
    public var split: String?
    /// The sender within a run (`source`), e.g. a trainer rank.
    public var source: String?
    /// The epoch, when the trainer gave one.
    public var epoch: Int?
    /// The step, when the trainer gave one.
    public var step: Int?
    /// The per-(run, source) sequence number, when the trainer gave one.
    public var seq: Int?

    /// Creates labels; all absent by default.
    public init(
        run: String? = nil, split: String? = nil, source: String? = nil,
        epoch: Int? = nil, step: Int? = nil, seq: Int? = nil
    ) {
        self.run = run
        self.split = split
        self.source = source
        self.epoch = epoch
        self.step = step
        self.seq = seq
    }

    /// No labels at all: what an error carries when the header could not be parsed.
    public static let none = BatchLabels()
}

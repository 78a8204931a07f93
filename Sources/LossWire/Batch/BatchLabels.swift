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
    /// The per-(run, source, stream) sequence number, when the trainer gave one.
    public var seq: Int?
    /// The sender's stream (`stream`): an id the sender draws once per process, so that a
    /// restarted sender, which counts its seqs from 0 again, is a new stream rather than a
    /// repetition of the old one. Absent for senders that predate it.
    public var stream: String?
    /// The sender's rank in a data-parallel job (`rank`), in `0 ..< worldSize`.
    public var rank: Int?
    /// The number of ranks of the job (`world_size`): how many records make one step complete.
    public var worldSize: Int?

    /// Creates labels; all absent by default.
    public init(
        run: String? = nil, split: String? = nil, source: String? = nil,
        epoch: Int? = nil, step: Int? = nil, seq: Int? = nil,
        stream: String? = nil, rank: Int? = nil, worldSize: Int? = nil
    ) {
        self.run = run
        self.split = split
        self.source = source
        self.epoch = epoch
        self.step = step
        self.seq = seq
        self.stream = stream
        self.rank = rank
        self.worldSize = worldSize
    }

    /// No labels at all: what an error carries when the header could not be parsed.
    public static let none = BatchLabels()
}

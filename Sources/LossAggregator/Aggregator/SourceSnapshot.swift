/// Lost, duplicated and late batches of one (run, source) at one moment, over all its streams
/// (the live ones and those retired).
public struct SourceSnapshot: Sendable, Hashable {
    /// The run.
    public var run: String
    /// The source.
    public var source: String
    /// The stream of the latest record, nil for a sender without streams.
    public var stream: String?
    /// The highest seq seen on that stream.
    public var highestSeq: Int
    /// Seqs counted lost (never seen once more than `reorder_window` below the highest) and not
    /// arrived since.
    public var lost: Int
    /// Records whose seq had been seen before (not aggregated again).
    public var duplicates: Int
    /// Records that arrived after their seq had been counted lost (aggregated, taken off `lost`).
    public var late: Int
    /// Seqs within the reorder window not seen yet: they count as lost if they fall out of it,
    /// or at shutdown.
    public var pending: Int
    /// Streams tracked now (each a process that sent with a `stream` id).
    public var streams: Int
    /// Streams retired (idle past `stream_idle`, or the idle-longest when `max_streams` were
    /// tracked); their counts stay in the figures above.
    public var retiredStreams: Int

    /// Every seq ever counted lost, late arrivals included: `lost + late`, which never goes down
    /// (`lossd_lost_batches_total`).
    public var lostTotal: Int { lost + late }

    /// A snapshot as given.
    public init(
        run: String, source: String, stream: String? = nil, highestSeq: Int, lost: Int, duplicates: Int, late: Int,
        pending: Int, streams: Int = 0, retiredStreams: Int = 0
    ) {
        self.run = run
        self.source = source
        self.stream = stream
        self.highestSeq = highestSeq
        self.lost = lost
        self.duplicates = duplicates
        self.late = late
        self.pending = pending
        self.streams = streams
        self.retiredStreams = retiredStreams
    }

    init(key: SourceKey, _ account: SourceAccount) {
        self.init(
            run: key.run, source: key.source, stream: account.latestStream.isEmpty ? nil : account.latestStream,
            highestSeq: account.streams[account.latestStream]?.tracker.highest ?? -1, lost: account.lost,
            duplicates: account.duplicates, late: account.late, pending: account.pending,
            streams: account.namedStreams, retiredStreams: account.retired.streams)
    }
}

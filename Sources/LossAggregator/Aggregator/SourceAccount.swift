/// The seq accounting of one (run, source): one ``SequenceTracker`` per stream, and the counts of
/// the streams it retired.
///
/// A sender that gives a `stream` (LossClient draws one per process) gets a tracker of its own
/// for every stream, so a restarted process, which counts its seqs from 0 again, is a new stream
/// and never a run of duplicates. Records without a `stream` share the tracker of the empty
/// stream, as every record did before streams existed; that one is never retired.
struct SourceAccount: Sendable, Hashable {
    /// One stream's tracker and when it last sent.
    struct Stream: Sendable, Hashable {
        /// Its seq marks and counts.
        var tracker: SequenceTracker
        /// When its latest record arrived, seconds since the Unix epoch.
        var lastSeen: Double

        mutating func observe(_ seq: Int, at time: Double, lostChange: inout Int) -> SequenceTracker.Observation {
            lastSeen = max(lastSeen, time)
            return tracker.observe(seq, lostChange: &lostChange)
        }
    }

    /// The counts of streams that were retired, kept so that the (run, source)'s counts never
    /// go down.
    struct Retired: Sendable, Hashable {
        /// Streams retired.
        var streams = 0
        /// Their seqs counted lost and not arrived.
        var lost = 0
        /// Their duplicates.
        var duplicates = 0
        /// Their late arrivals.
        var late = 0
    }

    /// The live streams, by id (`""`: records without a stream).
    var streams: [String: Stream] = [:]
    /// The stream of the latest record.
    var latestStream = ""
    /// What the retired streams counted.
    var retired = Retired()

    /// Observes `seq` of `stream` at `time`, saying by how much the lost count changed.
    mutating func observe(
        _ seq: Int, stream: String, at time: Double, reorderWindow: Int, lostChange: inout Int
    ) -> SequenceTracker.Observation {
        if latestStream != stream { latestStream = stream }
        // In place: the default (a new tracker) is only built for a stream not seen yet.
        return streams[stream, default: Stream(tracker: SequenceTracker(reorderWindow: reorderWindow), lastSeen: time)]
            .observe(seq, at: time, lostChange: &lostChange)
    }

    /// Retires `stream`: its pending seqs count as lost (it will not send again) and its counts
    /// move to ``retired``. Returns by how much the lost count changed.
    @discardableResult
    mutating func retire(_ stream: String) -> Int {
        guard var entry = streams.removeValue(forKey: stream) else { return 0 }
        let before = entry.tracker.lost
        entry.tracker.countPendingAsLost()
        retired.streams += 1
        retired.lost += entry.tracker.lost
        retired.duplicates += entry.tracker.duplicates
        retired.late += entry.tracker.late
        return entry.tracker.lost - before
    }

    /// Seqs counted lost and not arrived since, over every stream.
    var lost: Int { streams.values.reduce(retired.lost) { $0 + $1.tracker.lost } }
    /// Duplicates over every stream.
    var duplicates: Int { streams.values.reduce(retired.duplicates) { $0 + $1.tracker.duplicates } }
    /// Late arrivals over every stream.
    var late: Int { streams.values.reduce(retired.late) { $0 + $1.tracker.late } }
    /// Seqs pending over the live streams.
    var pending: Int { streams.values.reduce(0) { $0 + $1.tracker.pending.count } }
    /// The live streams that have an id.
    var namedStreams: Int { streams.keys.count { !$0.isEmpty } }

    /// Counts every pending seq of every stream as lost (shutdown).
    mutating func countPendingAsLost() {
        for key in streams.keys {
            streams[key]?.tracker.countPendingAsLost()
        }
    }
}

import DequeModule

/// The records a sidecar has sent (or will send) on the record link and the aggregator has not
/// yet acknowledged as durable, in link-seq order; bounded by a count and by bytes.
///
/// A plain value: ``LinkOutboxQueue`` puts it behind a lock between the emitter (which appends)
/// and the link thread (which sends and acknowledges).
struct LinkOutbox: Sendable {
    /// One held record.
    struct Entry: Sendable, Hashable {
        /// Its link seq.
        var seq: UInt64
        /// Its JSON line.
        var bytes: [UInt8]
    }

    /// At most this many records are held.
    let maxRecords: Int
    /// At most this many bytes of records are held (a single larger record is let in alone).
    let maxBytes: Int
    private(set) var entries = Deque<Entry>()
    /// The seq the next appended record gets.
    private(set) var nextSeq: UInt64
    /// The bytes of the held records.
    private(set) var byteCount = 0

    /// An empty outbox whose first record gets `nextSeq`.
    init(maxRecords: Int, maxBytes: Int, nextSeq: UInt64 = 0) {
        self.maxRecords = max(1, maxRecords)
        self.maxBytes = max(1, maxBytes)
        self.nextSeq = nextSeq
    }

    /// The oldest seq held, or ``nextSeq`` when empty: every seq below it was acknowledged.
    var first: UInt64 { entries.first?.seq ?? nextSeq }

    /// How many records are held.
    var count: Int { entries.count }

    /// Whether a record of `size` bytes fits now. An empty outbox takes any record, so one record
    /// larger than ``maxBytes`` cannot block the link for ever.
    func hasRoom(for size: Int) -> Bool {
        entries.isEmpty || (entries.count < maxRecords && byteCount + size <= maxBytes)
    }

    /// Appends `bytes` whether or not there is room (check ``hasRoom(for:)`` first); returns its seq.
    @discardableResult
    mutating func append(_ bytes: [UInt8]) -> UInt64 {
        let seq = nextSeq
        entries.append(Entry(seq: seq, bytes: bytes))
        byteCount += bytes.count
        nextSeq += 1
        return seq
    }

    /// Puts back a record read from a spool (at start, in seq order); a seq not above the last
    /// held one is ignored. The next appended record follows it.
    mutating func restore(_ entry: Entry) {
        if let last = entries.last, entry.seq <= last.seq { return }
        entries.append(entry)
        byteCount += entry.bytes.count
        nextSeq = entry.seq + 1
    }

    /// Forgets every record below `durable`; returns how many.
    @discardableResult
    mutating func acknowledge(below durable: UInt64) -> Int {
        var removed = 0
        while let head = entries.first, head.seq < durable {
            byteCount -= head.bytes.count
            entries.removeFirst()
            removed += 1
        }
        return removed
    }

    /// The record with `seq`, if held.
    func entry(_ seq: UInt64) -> Entry? {
        guard let head = entries.first?.seq, seq >= head, seq - head < UInt64(entries.count) else { return nil }
        return entries[Int(seq - head)]
    }
}

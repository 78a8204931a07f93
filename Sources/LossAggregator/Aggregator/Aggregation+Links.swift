/// Where one sidecar's record link stands: every link seq below ``next`` has been ingested.
struct LinkPosition: Sendable, Hashable {
    /// The next link seq to ingest.
    var next: UInt64
    /// When the link last sent anything (seconds since the Unix epoch).
    var lastSeen: Double
}

extension Aggregation {
    /// What to do with a record that came over a record link.
    public enum LinkAdmission: Sendable, Hashable {
        /// The next seq of its link: ingest it.
        case ingest
        /// Its seq was ingested before (a resend): drop it silently.
        case alreadyIngested
        /// A seq past the next one (an earlier one was lost in a connection): drop it; the
        /// sidecar must send again from `expected`.
        case gap(expected: UInt64)
    }

    /// Decides about link seq `seq` of `link`, whose sender holds everything from `first` on, and
    /// moves the link on when it is the next one. An unknown link starts at `first`; a link whose
    /// sender forgot seqs the aggregator has not seen (`first` above ``LinkPosition/next``, a
    /// state file older than the sender's acks) continues at `first`.
    mutating func admitLinkRecord(link: String, seq: UInt64, first: UInt64, at time: Double) -> LinkAdmission {
        var position = links[link] ?? LinkPosition(next: first, lastSeen: time)
        position.next = max(position.next, first)
        position.lastSeen = max(position.lastSeen, time)
        defer { links[link] = position }
        if seq < position.next { return .alreadyIngested }
        guard seq == position.next else { return .gap(expected: position.next) }
        position.next += 1
        linkRecords += 1
        return .ingest
    }

    /// Notes a `sync` of `link` (its sender holds `first` on) and returns the next seq it must send.
    mutating func syncLink(_ link: String, first: UInt64, at time: Double) -> UInt64 {
        var position = links[link] ?? LinkPosition(next: first, lastSeen: time)
        position.next = max(position.next, first)
        position.lastSeen = max(position.lastSeen, time)
        links[link] = position
        return position.next
    }

    /// The next seq of every link: what a state saved now holds.
    var linkPositions: [String: UInt64] { links.mapValues(\.next) }

    /// Forgets links silent since before `time`; one that sends again starts at its `first`.
    mutating func forgetLinks(idleBefore time: Double) {
        links = links.filter { $0.value.lastSeen >= time }
    }
}

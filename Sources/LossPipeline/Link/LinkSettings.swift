import Synchronization

/// How a sidecar's acknowledged record link holds records until the aggregator has saved them.
public struct LinkSettings: Sendable, Hashable {
    /// At most this many records wait for acknowledgement (`sidecar.outbox_records`); when the
    /// outbox is full the sidecar stops taking batches. Default 10 000.
    public var outboxRecords: Int
    /// At most this many bytes of records wait (`sidecar.outbox_bytes`). Default 64 MiB.
    public var outboxBytes: Int
    /// A folder that keeps the waiting records on disk, so that a restarted sidecar sends them
    /// (`sidecar.spool`); nil keeps them in memory only.
    public var spool: String?
    /// At shutdown, how long the sidecar waits for room in the outbox and then for every record to
    /// be acknowledged (`sidecar.ack_timeout_seconds`). Default 30 s.
    public var ackTimeout: Duration

    /// The defaults.
    public init(
        outboxRecords: Int = 10_000, outboxBytes: Int = 64 << 20, spool: String? = nil,
        ackTimeout: Duration = .seconds(30)
    ) {
        self.outboxRecords = outboxRecords
        self.outboxBytes = outboxBytes
        self.spool = spool
        self.ackTimeout = ackTimeout
    }
}

/// The moment a stopping sidecar gives up waiting on its output: set once, when the drain begins.
public final class DrainDeadline: Sendable {
    private let deadline = Mutex<ContinuousClock.Instant?>(nil)

    /// A deadline not yet set.
    public init() {}

    /// Sets the deadline `timeout` from now, unless already set.
    public func begin(timeout: Duration) {
        deadline.withLock { value in
            if value == nil { value = ContinuousClock.now.advanced(by: timeout) }
        }
    }

    /// The deadline, once set.
    public var instant: ContinuousClock.Instant? { deadline.withLock { $0 } }

    /// Whether the deadline is set and has passed.
    public var hasPassed: Bool { instant.map { ContinuousClock.now >= $0 } ?? false }
}

public import Logging
public import LossWire
public import ZeroMQ

/// The sidecar's end of the acknowledged record link: records go into a bounded outbox (and the
/// spool, if any), a link thread of their own sends them on a DEALER socket and forgets them only
/// when the aggregator acknowledges them as saved (docs/PROTOCOL.md, "The record link").
///
/// The sink is made on, and written by, the pipeline's emitter thread. A write waits while the
/// outbox is full: that stalls the emitter, then the workers and the receiver, and so pushes back
/// on the trainers. The emitter wakes the link thread through an inproc PAIR socket it owns.
public final class LinkRecordSink: RecordSink {
    private let queue: LinkOutboxQueue
    private let drain: DrainDeadline
    private let settings: LinkSettings
    private let sender: SocketThread<Void>
    private let senderStop: Latch<Void>
    private let wake: Socket
    private let logger: Logger
    /// Records held unacknowledged at the end and not spooled: lost. Known after ``close()``.
    public private(set) var unacknowledged = 0
    /// Records held unacknowledged at the end and kept in the spool for the next start.
    public private(set) var spooled = 0
    /// Records a spool gave back at start (sent again).
    public let restored: Int

    /// Opens the spool (if any), starts the link thread and connects its DEALER to `endpoints`.
    ///
    /// - Parameters:
    ///   - security: CURVE client options, exactly as for the PUSH output.
    ///   - drain: Set when the sidecar stops; after it, writes and ``close()`` stop waiting.
    ///   - onHandshakeFailure: Each failed handshake of the DEALER, on the monitor's thread.
    public init(
        context: Context, endpoints: [Endpoint], settings: LinkSettings, security: [SocketOption] = [],
        drain: DrainDeadline, logger: Logger, onHandshakeFailure: (@Sendable (HandshakeFailure) -> Void)? = nil
    ) throws {
        var link = LinkRecordSink.newLinkID()
        var outbox = LinkOutbox(maxRecords: settings.outboxRecords, maxBytes: settings.outboxBytes)
        var spool: LinkSpool?
        if let folder = settings.spool {
            let (opened, contents) = try LinkSpool.open(folder)
            spool = opened
            if let saved = contents.link {
                link = saved
                for entry in contents.entries { outbox.restore(entry) }
            } else {
                try opened.saveLink(link)
            }
            if contents.damaged > 0 {
                logger.warning(
                    "the spool ended in a damaged entry, written when the sidecar stopped; it was dropped",
                    metadata: ["spool": "\(folder)"])
            }
        }
        restored = outbox.count
        let queue = LinkOutboxQueue(link: link, outbox: outbox, spool: spool)
        let wakeAddress = "inproc://lossd-link-wake-\(link)-\(LinkRecordSink.newLinkID())"
        let ready = Latch<String?>()
        let stop = Latch<Void>()
        let senderLogger = logger
        sender = try SocketThread(name: "sidecar-link", context: context, type: .dealer) { socket in
            let waker: Socket
            let monitor: HandshakeMonitor?
            do {
                waker = try Socket(context, type: .pair)
                try waker.bind(wakeAddress)
                try socket.setOptions(
                    [.linger(.zero), .immediate(true), .sendHighWaterMark(0), .receiveHighWaterMark(0)]
                        + LinkSender.connectionOptions + security)
                monitor = try onHandshakeFailure.map { report throws(ZeroMQError) in
                    try HandshakeMonitor(watching: socket, onFailure: report)
                }
                do {
                    try socket.attach(endpoints)
                } catch {
                    monitor?.stop()
                    throw error
                }
            } catch {
                ready.open("\(error)")
                return
            }
            defer {
                waker.close()
                monitor?.stop()
            }
            ready.open(nil)
            var sender = LinkSender(queue: queue, logger: senderLogger)
            sender.run(socket: socket, wake: waker, stop: stop)
        }
        senderStop = stop
        if let problem = ready.wait() {
            _ = try? sender.join()
            spool?.close()
            throw LinkSinkError.cannotStart(problem)
        }
        wake = try Socket(context, type: .pair)
        try wake.setOptions([.sendHighWaterMark(1), .linger(.zero)])
        try wake.connect(wakeAddress)
        self.queue = queue
        self.drain = drain
        self.settings = settings
        self.logger = logger
        if restored > 0 {
            logger.info(
                "records from the spool are sent again",
                metadata: ["records": "\(restored)", "spool": "\(settings.spool ?? "")", "link": "\(link)"])
        }
    }

    /// The link id the records are sent under.
    public var link: String { queue.link }

    /// Puts one record in the outbox, waiting while it is full; once the sidecar stops, waits no
    /// longer than its ack timeout and then throws ``LinkSinkError/outboxFull``.
    public func write(_ record: ResultRecord) throws {
        let drain = self.drain
        guard try queue.append(record.jsonLine(), giveUp: { drain.hasPassed }) else {
            throw LinkSinkError.outboxFull(records: settings.outboxRecords, bytes: settings.outboxBytes)
        }
        try? wake.send([[]], mode: .dontWait)
    }

    /// Waits (until the drain deadline) for every record to be acknowledged, stops the link
    /// thread, and counts what is left: ``spooled`` with a spool, ``unacknowledged`` (lost) without.
    public func close() throws {
        let deadline = drain.instant ?? ContinuousClock.now.advanced(by: settings.ackTimeout)
        let left = queue.waitUntilEmpty(before: deadline)
        _ = senderStop.open()
        try? wake.send([[]], mode: .dontWait)
        wake.close()
        try sender.join()
        if queue.closeSpool() {
            spooled = left
        } else {
            unacknowledged = left
        }
        if left > 0 {
            logger.warning(
                "\(left) records were not acknowledged by the aggregator in time",
                metadata: [
                    "kept_in": "\(settings.spool ?? "nothing: they are lost")", "link": "\(queue.link)",
                ])
        }
    }

    /// 16 lowercase hex digits, 64 random bits.
    static func newLinkID() -> String {
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A failure of the record link's sink.
public enum LinkSinkError: Error, Sendable, CustomStringConvertible {
    /// The link thread could not open its sockets.
    case cannotStart(String)
    /// The outbox stayed full until the stopping sidecar's ack timeout passed.
    case outboxFull(records: Int, bytes: Int)

    /// A sentence saying what failed and what to change.
    public var description: String {
        switch self {
        case .cannotStart(let reason):
            "cannot open the record link: \(reason)"
        case .outboxFull(let records, let bytes):
            """
            the outbox (\(records) records, \(bytes) bytes) stayed full until the ack timeout: the aggregator \
            did not acknowledge records; this record is lost. Check that the aggregator runs and is reachable
            """
        }
    }
}

import Logging
import LossWire
import ZeroMQ

/// The link thread's loop: sends the outbox's records in seq order as far as the aggregator's
/// credit allows, applies its acks, goes back to where it asks (go-back-N), and asks where it
/// stands (`sync`) when records wait and it has been silent for ``syncInterval``.
struct LinkSender {
    /// Seqs a sidecar may have in flight before the first ack says otherwise.
    static let initialCredit: UInt64 = 1000
    /// How long the aggregator may stay silent while records wait before a `sync` is sent.
    static let syncInterval: Duration = .seconds(1)
    /// How long the link's connection may carry nothing before libzmq sends a PING on it.
    static let heartbeatInterval: Duration = .seconds(1)
    /// How long the connection may stay silent after a PING before it is closed and dialled again.
    ///
    /// After a network cut, TCP retransmits on a connection that survived it with an exponential
    /// back-off: a connection left to itself carried records again 10–17 s after a 20 s cut
    /// ended. A connection given up during the cut is replaced by a fresh dial as soon as the
    /// network is back, and go-back-N sends again what the old one lost.
    static let heartbeatTimeout: Duration = .seconds(5)
    /// How long one TCP connect attempt may take before the link dials again, rather than wait
    /// out the kernel's SYN back-off (1, 3, 7, 15 … s) while the aggregator is unreachable.
    static let connectTimeout: Duration = .seconds(2)

    /// The options of the link's socket that keep its connection live across network faults.
    static let connectionOptions: [SocketOption] = [
        .heartbeatInterval(heartbeatInterval), .heartbeatTimeout(heartbeatTimeout), .connectTimeout(connectTimeout),
    ]

    let queue: LinkOutboxQueue
    let logger: Logger
    /// The next seq to send.
    private var sendNext: UInt64 = 0
    /// Every seq below this was ingested, as the last ack said.
    private var peerNext: UInt64 = 0
    private var credit = LinkSender.initialCredit
    private var lastHeard = ContinuousClock.now
    private var lastSync: ContinuousClock.Instant?
    private var blocked = false

    init(queue: LinkOutboxQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
        let bounds = queue.bounds
        sendNext = bounds.first
        peerNext = bounds.first
    }

    /// Runs until `stop` is raised (and one last round after it).
    mutating func run(socket: Socket, wake: Socket, stop: Latch<Void>) {
        var poller = Poller()
        poller.register(socket, for: .readable)
        poller.register(wake, for: .readable)
        sync(socket)
        while !stop.isOpen {
            let timeout: Duration = blocked ? .milliseconds(10) : .milliseconds(100)
            do {
                _ = try poller.poll(timeout: timeout)
                while (try? wake.tryReceive(maxFrames: 1)) != nil {}
                while let message = try socket.tryReceive(maxFrames: 4) {
                    handle(message)
                }
                send(socket)
                if queue.count > 0, ContinuousClock.now - lastHeard >= Self.syncInterval,
                    lastSync.map({ ContinuousClock.now - $0 >= Self.syncInterval }) ?? true
                {
                    sync(socket)
                }
            } catch ZeroMQError.terminated {
                return
            } catch {
                logger.error("the record link failed; stopping it", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    private mutating func handle(_ message: ReceivedMessage) {
        let decoded = message.withFrames { frames in
            Result { () throws(LinkProtocolError) in try LinkMessage(frames: frames) }
        }
        guard case .success(.ack(let ack)) = decoded, ack.link == queue.link else {
            logger.debug("the record link ignored a message that is not an ack of this link")
            return
        }
        lastHeard = ContinuousClock.now
        queue.acknowledge(below: min(ack.durable, ack.next))
        credit = max(1, ack.credit)
        let first = queue.bounds.first
        if ack.rewind {
            if sendNext > ack.next {
                logger.debug("the record link sends again", metadata: ["from": "\(ack.next)", "was_at": "\(sendNext)"])
            }
            peerNext = ack.next
            sendNext = max(ack.next, first)
        } else {
            peerNext = max(peerNext, ack.next)
        }
        sendNext = max(sendNext, first)
    }

    /// Sends what the credit allows, without waiting.
    private mutating func send(_ socket: Socket) {
        blocked = false
        while sendNext < peerNext &+ credit {
            let (first, _) = queue.bounds
            if sendNext < first { sendNext = first }
            guard let entry = queue.entry(sendNext) else { return }
            let head = LinkMessage.record(link: queue.link, seq: entry.seq, first: first).frames
            do {
                try socket.send(head + [entry.bytes], mode: .dontWait)
            } catch {
                // No connected aggregator (or its queue is full): try again shortly.
                blocked = true
                return
            }
            sendNext += 1
        }
    }

    private mutating func sync(_ socket: Socket) {
        let bounds = queue.bounds
        lastSync = ContinuousClock.now
        try? socket.send(
            LinkMessage.sync(link: queue.link, first: bounds.first, next: bounds.next).frames, mode: .dontWait)
    }
}

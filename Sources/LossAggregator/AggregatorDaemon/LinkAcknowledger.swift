import Logging
import LossWire
import ZeroMQ

/// The aggregator's side of the record link, run by the receiver thread that owns the ROUTER
/// socket: takes `record` and `sync` messages, and answers with acks (docs/PROTOCOL.md, "The
/// record link").
///
/// Acks go out: to every `sync` (with rewind), once per ``rewindInterval`` for a link whose
/// records arrive past a gap (with rewind), after ``creditBatch`` records of a link and whenever
/// the socket's queue runs empty (credit), and after each saved state (durable).
struct LinkAcknowledger {
    /// A link gets a credit ack at least every this many records.
    static let creditBatch = 250
    /// At most one rewind per link in this time.
    static let rewindInterval: Duration = .milliseconds(200)
    /// Without a state file, how often the links the statistics forgot are forgotten here too
    /// (with one, after every save).
    static let forgetInterval: Duration = .seconds(1)

    let aggregator: Aggregator
    /// How many seqs past its `next` a sidecar may send before the next ack.
    let credit: UInt64
    /// The saved positions, or nil without a state file (then ingested means durable).
    let checkpoints: LinkCheckpoints?
    /// Without a state file, the least time between two looks for links to forget.
    let forgetInterval: Duration
    private var routes: [String: [UInt8]] = [:]
    private var unacknowledged: [String: Int] = [:]
    private var lastRewind: [String: ContinuousClock.Instant] = [:]
    private var durableSent: [String: UInt64] = [:]
    private var generation = 0
    private var lastForget = ContinuousClock.now

    /// How many links the acknowledger keeps a route and counters for.
    var knownLinks: Int { routes.count }

    init(
        aggregator: Aggregator, credit: UInt64, checkpoints: LinkCheckpoints?,
        forgetInterval: Duration = LinkAcknowledger.forgetInterval
    ) {
        self.aggregator = aggregator
        self.credit = credit
        self.checkpoints = checkpoints
        self.forgetInterval = forgetInterval
    }

    /// Handles one message off the ROUTER (frame 0: the peer's routing id).
    mutating func handle(
        _ message: ReceivedMessage, socket: Socket, at time: Double, invalidLog: inout InvalidRecordLog, logger: Logger
    ) {
        message.withFrames { frames in
            guard frames.count >= 2 else { return }
            let routingID = Array(frames[0])
            let decoded: LinkMessage
            do {
                decoded = try LinkMessage(frames: Array(frames.dropFirst()))
            } catch {
                aggregator.ingestInvalid(at: time)
                invalidLog.note("\(error)", at: time, logger: logger)
                return
            }
            let link = decoded.link
            if routes[link] != routingID { routes[link] = routingID }
            switch decoded {
            case .record(_, let seq, let first):
                let result = aggregator.ingest(linkRecord: frames[4], link: link, seq: seq, first: first, at: time)
                if let problem = result.problem { invalidLog.note(problem.reason, at: time, logger: logger) }
                switch result.admission {
                case .ingest:
                    unacknowledged[link, default: 0] += 1
                    if unacknowledged[link, default: 0] >= Self.creditBatch { acknowledge(link, socket: socket) }
                case .alreadyIngested:
                    break
                case .gap:
                    let now = ContinuousClock.now
                    if lastRewind[link].map({ now - $0 >= Self.rewindInterval }) ?? true {
                        lastRewind[link] = now
                        acknowledge(link, socket: socket, rewind: true)
                    }
                }
            case .sync(_, let first, _):
                _ = aggregator.syncLink(link, first: first, at: time)
                acknowledge(link, socket: socket, rewind: true)
            case .ack:
                invalidLog.note(
                    "an ack came to the aggregator's input; only sidecars send there", at: time, logger: logger)
            }
        }
    }

    /// Sends a credit ack to every link that sent records since its last ack (the queue is empty).
    mutating func acknowledgePending(socket: Socket) {
        for (link, count) in unacknowledged where count > 0 {
            acknowledge(link, socket: socket)
        }
    }

    /// After a saved state: sends each link whose durable position moved an ack. Either way,
    /// forgets the links the statistics forgot: after each save with a state file, at most once
    /// per ``forgetInterval`` without one.
    mutating func acknowledgeSaved(socket: Socket) {
        guard let checkpoints else {
            let now = ContinuousClock.now
            if now - lastForget >= forgetInterval {
                lastForget = now
                forgetIdleLinks(saved: [:])
            }
            return
        }
        guard checkpoints.generation != generation else { return }
        generation = checkpoints.generation
        let positions = checkpoints.positions
        for (link, position) in positions where position > durableSent[link] ?? 0 {
            guard routes[link] != nil else { continue }
            acknowledge(link, socket: socket)
        }
        forgetIdleLinks(saved: positions)
    }

    /// Forgets the route and counters of every link the statistics forgot (idle past
    /// `stream_idle`) that `saved` does not hold either: a sidecar restarted without its spool is
    /// a new link, so an aggregator that runs for months would otherwise keep one entry per start.
    private mutating func forgetIdleLinks(saved positions: [String: UInt64]) {
        for link in routes.keys where positions[link] == nil && aggregator.linkNext(link) == nil {
            routes[link] = nil
            unacknowledged[link] = nil
            lastRewind[link] = nil
            durableSent[link] = nil
        }
    }

    private mutating func acknowledge(_ link: String, socket: Socket, rewind: Bool = false) {
        guard let routingID = routes[link], let next = aggregator.linkNext(link) else { return }
        let durable = min(next, checkpoints.map { $0.positions[link] ?? 0 } ?? next)
        unacknowledged[link] = 0
        durableSent[link] = max(durableSent[link] ?? 0, durable)
        let ack = LinkAck(link: link, next: next, durable: durable, credit: credit, rewind: rewind)
        // A sidecar that is gone or not reading loses this ack; the next one says the same and more.
        try? socket.send([routingID] + LinkMessage.ack(ack).frames, mode: .dontWait)
    }
}

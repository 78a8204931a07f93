import CZeroMQ

/// The ZeroMQ socket patterns lossd uses.
public enum SocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Sends to connected PULL peers in turn; blocks (or reports ``ZeroMQError/wouldBlock``) when
    /// every peer's queue is full.
    case push
    /// Receives from PUSH peers, fair-queued.
    case pull
    /// Sends to every subscribed SUB peer; drops messages for peers that are not keeping up.
    case pub
    /// Receives the PUB messages whose first frame starts with a subscribed topic.
    case sub
    /// Exactly one peer, both directions; used between threads over inproc.
    case pair
    /// Replies to requests in turn; lossd uses it for the ZAP authentication handler.
    case rep
    /// Sends to and receives from its peers with no envelope, asynchronously; the end of a
    /// conversation that a ``router`` addresses. lossd's acknowledged record link: the sidecar's end.
    case dealer
    /// Receives from every peer with the peer's routing id as the first frame, and sends a message
    /// to the peer its first frame names (dropped when no such peer is connected). lossd's
    /// acknowledged record link: the aggregator's end.
    case router

    /// The `ZMQ_*` constant.
    var rawValue: Int32 {
        switch self {
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        case .dealer: return ZMQ_DEALER
        case .router: return ZMQ_ROUTER
        }
    }

    /// The pattern's name, e.g. `PULL`.
    public var description: String {
        switch self {
        case .push: return "PUSH"
        case .pull: return "PULL"
        case .pub: return "PUB"
        case .sub: return "SUB"
        case .pair: return "PAIR"
        case .rep: return "REP"
        case .dealer: return "DEALER"
        case .router: return "ROUTER"
        }
    }
}

import CZeroMQ

/// A socket option lossd sets, typed; apply it with ``Socket/setOption(_:)``.
///
/// Durations are rounded down to whole milliseconds; `nil` means "forever" (or "unlimited") where
/// libzmq has such a setting. Most options affect only later binds and connects, so set them first.
public enum SocketOption: Sendable, Hashable {
    /// `ZMQ_SNDHWM`: how many outgoing messages queue per peer before sends block (0: no limit).
    case sendHighWaterMark(Int)
    /// `ZMQ_RCVHWM`: how many incoming messages queue per peer before the peer is held back.
    case receiveHighWaterMark(Int)
    /// `ZMQ_LINGER`: how long unsent messages are kept after the socket closes (`nil`: until sent).
    case linger(Duration?)
    /// `ZMQ_IMMEDIATE`: queue messages only to completed connections, so that a send to a
    /// not-yet-connected peer blocks instead of filling a queue that may never drain.
    case immediate(Bool)
    /// `ZMQ_RCVTIMEO`: how long a blocking receive waits before ``ZeroMQError/timedOut`` (`nil`: forever).
    case receiveTimeout(Duration?)
    /// `ZMQ_SNDTIMEO`: how long a blocking send waits before ``ZeroMQError/timedOut`` (`nil`: forever).
    case sendTimeout(Duration?)
    /// `ZMQ_MAXMSGSIZE`: the largest inbound frame accepted, in bytes; a peer that sends a larger
    /// one is disconnected by libzmq (`nil`: no limit).
    case maxMessageSize(Int?)
    /// `ZMQ_HEARTBEAT_IVL`: send a ZMTP PING on every connection when it has been this quiet, so
    /// that ``heartbeatTimeout(_:)`` can find a connection that no longer carries anything.
    case heartbeatInterval(Duration)
    /// `ZMQ_HEARTBEAT_TIMEOUT`: close a connection that received nothing (no message, no PONG)
    /// for this long after a PING; a connecting socket then dials again.
    case heartbeatTimeout(Duration)
    /// `ZMQ_CONNECT_TIMEOUT`: give up one TCP connect attempt after this long and dial again,
    /// instead of waiting out the kernel's SYN back-off (`nil`: the kernel's own, about two minutes).
    case connectTimeout(Duration?)
    /// `ZMQ_SUBSCRIBE` (SUB only): receive messages whose first frame starts with these bytes;
    /// an empty topic receives everything.
    case subscribe([UInt8])
    /// `ZMQ_UNSUBSCRIBE` (SUB only): undo one ``subscribe(_:)`` of the same topic.
    case unsubscribe([UInt8])
    /// `ZMQ_CURVE_SERVER`: this socket is the CURVE server (it needs ``curveSecretKey(_:)``).
    case curveServer(Bool)
    /// `ZMQ_CURVE_PUBLICKEY`: this socket's long-term public key, 40 characters of Z85.
    case curvePublicKey(String)
    /// `ZMQ_CURVE_SECRETKEY`: this socket's long-term secret key, 40 characters of Z85.
    case curveSecretKey(String)
    /// `ZMQ_CURVE_SERVERKEY` (clients): the server's public key, 40 characters of Z85.
    case curveServerKey(String)
    /// `ZMQ_ZAP_DOMAIN`: the authentication domain reported to a ZAP handler.
    case zapDomain(String)
    /// `ZMQ_ROUTING_ID`: the id a ROUTER peer sees as this socket's first frame (1 to 255 bytes,
    /// not starting with a zero byte); without it the ROUTER makes one up per connection.
    case routingID([UInt8])
    /// `ZMQ_ROUTER_MANDATORY` (ROUTER only): a send to a routing id with no connected peer fails
    /// with `EHOSTUNREACH` (``ZeroMQError/failed(operation:errno:message:)``) instead of being
    /// dropped silently.
    case routerMandatory(Bool)

    /// A topic from UTF-8 text, for ``subscribe(_:)``.
    public static func subscribe(_ topic: String) -> SocketOption { .subscribe(Array(topic.utf8)) }

    /// Sets the option on a libzmq socket.
    func apply(to socket: UnsafeMutableRawPointer) throws(ZeroMQError) {
        switch self {
        case .sendHighWaterMark(let count):
            try set(socket, ZMQ_SNDHWM, int: count, "the send high-water mark")
        case .receiveHighWaterMark(let count):
            try set(socket, ZMQ_RCVHWM, int: count, "the receive high-water mark")
        case .linger(let duration):
            try set(socket, ZMQ_LINGER, int: SocketOption.milliseconds(duration), "the linger time")
        case .immediate(let on):
            try set(socket, ZMQ_IMMEDIATE, int: on ? 1 : 0, "immediate")
        case .receiveTimeout(let duration):
            try set(socket, ZMQ_RCVTIMEO, int: SocketOption.milliseconds(duration), "the receive timeout")
        case .sendTimeout(let duration):
            try set(socket, ZMQ_SNDTIMEO, int: SocketOption.milliseconds(duration), "the send timeout")
        case .maxMessageSize(let bytes):
            var value = Int64(bytes ?? -1)
            try set(socket, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size, "the maximum message size")
        case .heartbeatInterval(let duration):
            try set(socket, ZMQ_HEARTBEAT_IVL, int: SocketOption.milliseconds(duration), "the heartbeat interval")
        case .heartbeatTimeout(let duration):
            try set(socket, ZMQ_HEARTBEAT_TIMEOUT, int: SocketOption.milliseconds(duration), "the heartbeat timeout")
        case .connectTimeout(let duration):
            let milliseconds = max(0, SocketOption.milliseconds(duration))  // 0: the kernel's own
            try set(socket, ZMQ_CONNECT_TIMEOUT, int: milliseconds, "the connect timeout")
        case .subscribe(let topic):
            try set(socket, ZMQ_SUBSCRIBE, bytes: topic, "a subscription")
        case .unsubscribe(let topic):
            try set(socket, ZMQ_UNSUBSCRIBE, bytes: topic, "an unsubscription")
        case .curveServer(let on):
            try set(socket, ZMQ_CURVE_SERVER, int: on ? 1 : 0, "the CURVE server role")
        case .curvePublicKey(let key):
            try set(socket, ZMQ_CURVE_PUBLICKEY, z85: key, "the CURVE public key")
        case .curveSecretKey(let key):
            try set(socket, ZMQ_CURVE_SECRETKEY, z85: key, "the CURVE secret key")
        case .curveServerKey(let key):
            try set(socket, ZMQ_CURVE_SERVERKEY, z85: key, "the CURVE server key")
        case .zapDomain(let domain):
            try set(socket, ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8), "the ZAP domain")
        case .routingID(let id):
            try set(socket, ZMQ_ROUTING_ID, bytes: id, "the routing id")
        case .routerMandatory(let on):
            try set(socket, ZMQ_ROUTER_MANDATORY, int: on ? 1 : 0, "router-mandatory")
        }
    }

    /// Milliseconds for libzmq, `-1` for `nil`.
    static func milliseconds(_ duration: Duration?) -> Int {
        guard let duration else { return -1 }
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let limit = Int64(Int32.max)
        guard seconds < limit / 1000 else { return Int(limit) }
        return Int(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000, limit))
    }

    private func set(
        _ socket: UnsafeMutableRawPointer, _ name: Int32, int value: Int, _ what: String
    ) throws(ZeroMQError) {
        guard let narrow = Int32(exactly: value) else {
            throw .invalidArgument("cannot set \(what) to \(value): it must fit in 32 bits")
        }
        var copy = narrow
        try set(socket, name, &copy, MemoryLayout<Int32>.size, what)
    }

    private func set(
        _ socket: UnsafeMutableRawPointer, _ name: Int32, bytes: [UInt8], _ what: String
    ) throws(ZeroMQError) {
        var failure: ZeroMQError?
        bytes.withUnsafeBytes { buffer in
            if zmq_setsockopt(socket, name, buffer.baseAddress, buffer.count) != 0 {
                failure = ZeroMQError.last("set \(what)")
            }
        }
        if let failure { throw failure }
    }

    private func set(
        _ socket: UnsafeMutableRawPointer, _ name: Int32, z85 key: String, _ what: String
    ) throws(ZeroMQError) {
        guard key.utf8.count == 40 else {
            throw .invalidArgument(
                "cannot set \(what): a CURVE key is 40 characters of Z85 text, this one has \(key.utf8.count)")
        }
        try set(socket, name, bytes: Array(key.utf8), what)
    }

    private func set(
        _ socket: UnsafeMutableRawPointer, _ name: Int32, _ value: UnsafeRawPointer, _ size: Int,
        _ what: String
    ) throws(ZeroMQError) {
        if zmq_setsockopt(socket, name, value, size) != 0 {
            throw ZeroMQError.last("set \(what)")
        }
    }
}

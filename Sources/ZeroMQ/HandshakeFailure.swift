import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connection whose ZMTP handshake failed, as a ``HandshakeMonitor`` saw it.
///
/// What libzmq 4.3 reports for each way two ends can disagree (measured with Debian's 4.3.4 on
/// both ends, and with pyzmq's 4.3.5 as the client):
///
/// - a plain client and a CURVE server: the server sees ``Reason/mechanismMismatch`` at every
///   attempt; the client sees ``Reason/mechanismMismatch`` (after which it stops reconnecting) or
///   ``Reason/closed(errno:)`` (the server hung up first, and it tries again);
/// - a CURVE client and a plain server: the same;
/// - a client given another server key: the server sees ``Reason/cryptographic`` and the client
///   ``Reason/closed(errno:)``, at every attempt;
/// - a client key the ZAP handler refuses: both see ``Reason/refused(statusCode:)`` (400), once;
///   the client does not reconnect.
///
/// A TCP connection that closes before saying anything (a port probe) is ``Reason/closed(errno:)``
/// on the server.
public struct HandshakeFailure: Sendable, Hashable, CustomStringConvertible {
    /// Why the handshake failed.
    public enum Reason: Sendable, Hashable {
        /// One end uses CURVE and the other does not (`ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`).
        case mechanismMismatch
        /// A CURVE box could not be opened (`ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC`): on a server,
        /// the client was given another public key than the server's.
        case cryptographic
        /// The ZAP handler refused the peer (`ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`, status 400 for a
        /// client key that is not allowed).
        case refused(statusCode: Int)
        /// Another ZMTP or ZAP protocol error (a `ZMQ_PROTOCOL_ERROR_*` code).
        case protocolError(code: UInt32)
        /// The connection ended before the handshake completed (`ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`):
        /// the peer closed it, reset it, or never answered.
        case closed(errno: Int32)
    }

    /// Which end of the connection this socket was.
    public enum Side: Sendable, Hashable {
        /// The socket accepted the connection on an address it is bound at.
        case accepted
        /// The socket made the connection to an address it dialled.
        case connected
        /// Not known: libzmq reports a refusal before the connection closes, so its side is not known.
        case unknown
    }

    /// Why the handshake failed.
    public var reason: Reason
    /// Which end of the connection the monitored socket was.
    public var side: Side
    /// The endpoint libzmq names: the bound address for an accepted connection, the dialled
    /// address for one the socket made.
    public var endpoint: String
    /// The peer's address (`host:port`) for an accepted TCP connection when it could be read, the
    /// dialled endpoint for one the socket made; nil when unknown.
    public var peer: String?

    /// Creates a failure from its parts.
    public init(reason: Reason, side: Side, endpoint: String, peer: String?) {
        self.reason = reason
        self.side = side
        self.endpoint = endpoint
        self.peer = peer
    }

    /// The reason of a handshake-failure event, or nil for any other event.
    init?(reason event: SocketEvent) {
        switch event.event {
        case SocketEvent.handshakeFailedProtocol:
            switch event.value {
            case UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH): reason = .mechanismMismatch
            case UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC): reason = .cryptographic
            default: reason = .protocolError(code: event.value)
            }
        case SocketEvent.handshakeFailedAuth: reason = .refused(statusCode: Int(event.value))
        case SocketEvent.handshakeFailedNoDetail: reason = .closed(errno: event.fileDescriptor)
        default: return nil
        }
        side = .unknown
        endpoint = event.endpoint
        peer = nil
    }

    /// `reason with peer at endpoint`, for logs and test failures.
    public var description: String {
        let reasonText: String
        switch reason {
        case .mechanismMismatch: reasonText = "mechanism mismatch"
        case .cryptographic: reasonText = "cryptographic error"
        case .refused(let status): reasonText = "refused (ZAP status \(status))"
        case .protocolError(let code): reasonText = "protocol error 0x\(String(code, radix: 16))"
        case .closed(let code): reasonText = "closed during the handshake (\(String(cString: strerror(code))))"
        }
        return "\(reasonText) with \(peer ?? "an unknown peer") at \(endpoint)"
    }
}

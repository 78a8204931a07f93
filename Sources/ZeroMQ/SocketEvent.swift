import CZeroMQ

/// One event a socket monitor published, as libzmq 4.3 frames it: the event and its value in the
/// first frame (16 and 32 bits, in the host's byte order), the endpoint in the second.
public struct SocketEvent: Sendable, Hashable {
    /// The `ZMQ_EVENT_*` bit.
    public var event: UInt16
    /// The event's value: a file descriptor (`ZMQ_EVENT_ACCEPTED`, `_CONNECTED`, `_DISCONNECTED`),
    /// an errno (`_HANDSHAKE_FAILED_NO_DETAIL`), a `ZMQ_PROTOCOL_ERROR_*` code
    /// (`_HANDSHAKE_FAILED_PROTOCOL`) or a ZAP status code (`_HANDSHAKE_FAILED_AUTH`).
    public var value: UInt32
    /// The endpoint libzmq names: for a connection the socket accepted, the address it is bound
    /// at (not the peer's); for one it made, the address it dialled.
    public var endpoint: String

    /// Creates an event from its parts.
    public init(event: UInt16, value: UInt32, endpoint: String) {
        self.event = event
        self.value = value
        self.endpoint = endpoint
    }

    /// Decodes a monitor message; nil when it is not two frames with a 6-byte first frame.
    public init?(_ message: ReceivedMessage) {
        guard message.frames.count == 2, message.frames[0].count == 6 else { return nil }
        let (event, value) = message.withFrames { frames in
            (frames[0].loadUnaligned(as: UInt16.self), frames[0].loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        self.init(event: event, value: value, endpoint: message.string(at: 1))
    }

    /// The value as a file descriptor.
    var fileDescriptor: Int32 { Int32(bitPattern: value) }

    static let accepted = UInt16(ZMQ_EVENT_ACCEPTED)
    static let connected = UInt16(ZMQ_EVENT_CONNECTED)
    static let disconnected = UInt16(ZMQ_EVENT_DISCONNECTED)
    static let monitorStopped = UInt16(ZMQ_EVENT_MONITOR_STOPPED)
    static let handshakeFailedNoDetail = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    static let handshakeFailedProtocol = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    static let handshakeFailedAuth = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    static let handshakeSucceeded = UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)

    /// The events a ``HandshakeMonitor`` asks for.
    static let handshakeEvents: Int32 =
        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_MONITOR_STOPPED
        | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
}

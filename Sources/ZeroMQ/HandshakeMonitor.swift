import Synchronization

/// Watches one socket's handshakes on a thread of its own and reports each failure with the
/// peer's address and the reason.
///
/// libzmq publishes a socket's events (`zmq_socket_monitor`) on an inproc PAIR socket; the
/// monitor's thread owns the reading end, so the watched socket's owner never waits for it.
/// A failure event names the socket's own endpoint, not the peer, so the monitor keeps what it
/// learns from the connection events: for an accepted connection, the peer's address read from
/// its descriptor (`getpeername`) when `ZMQ_EVENT_ACCEPTED` arrives; for a connection the socket
/// made, the address it dialled. libzmq follows a protocol failure and a `NO_DETAIL` failure with
/// the connection's `ZMQ_EVENT_DISCONNECTED`, which names the descriptor and so the peer. A
/// refusal by the ZAP handler is reported at once with ``HandshakeFailure/Side/unknown``: its
/// connection closes later, and the ZAP request itself carries the peer's address
/// (``CurveAuthenticator``).
///
/// The peer's address is read as soon as the accepted event is read, some microseconds after the
/// connection came in. A connection that fails faster than that (a mechanism mismatch is found in
/// the greeting, a few round trips after the connection opens) is already closed by then and is
/// reported without an address: measured with plain clients in another process against a CURVE
/// input on a busy two-core machine, 37 of 42 failures named their peer.
///
/// Create it on the thread that owns the socket, before the socket binds or connects;
/// ``stop()`` it after closing the socket (or at any time: closing the socket also ends it).
public final class HandshakeMonitor: Sendable {
    private let thread: SocketThread<Void>
    private let stopRequest = StopRequest()
    private static let serial = Atomic<Int>(0)

    /// The stop request the owner raises and the monitor's thread reads.
    private final class StopRequest: Sendable {
        let requested = Atomic<Bool>(false)
    }

    /// Starts watching `socket`, which the calling thread owns.
    ///
    /// - Parameter onFailure: Called on the monitor's thread for every failed handshake.
    public init(
        watching socket: Socket, onFailure: @escaping @Sendable (HandshakeFailure) -> Void
    ) throws(ZeroMQError) {
        let endpoint = "inproc://lossd-handshake-monitor-\(Self.serial.add(1, ordering: .relaxed).newValue)"
        try socket.startMonitor(at: endpoint, events: SocketEvent.handshakeEvents)
        let connected = Latch<ZeroMQError?>()
        let stopRequest = self.stopRequest
        thread = try SocketThread(name: "zmq-monitor", context: socket.context, type: .pair) { pair in
            do throws(ZeroMQError) {
                try pair.setOption(.linger(.zero))
                try pair.connect(endpoint)
            } catch {
                connected.open(error)
                return
            }
            connected.open(nil)
            var correlator = Correlator(report: onFailure)
            while !stopRequest.requested.load(ordering: .acquiring) {
                let message: ReceivedMessage?
                do {
                    message = try pair.receive(timeout: .milliseconds(100), maxFrames: 2)
                } catch {
                    break
                }
                guard let message else {
                    correlator.flush()
                    continue
                }
                guard let event = SocketEvent(message) else { continue }
                if event.event == SocketEvent.monitorStopped { break }
                correlator.handle(event)
            }
            correlator.flush()
        }
        if let error = connected.wait() {
            _ = try? thread.join()
            try? socket.stopMonitor()
            throw error
        }
    }

    /// Stops the monitor and waits for its thread (at most about 100 ms).
    public func stop() {
        stopRequest.requested.store(true, ordering: .releasing)
        _ = try? thread.join()
    }

    /// Matches failure events with the connection they belong to.
    struct Correlator {
        let report: @Sendable (HandshakeFailure) -> Void
        /// Accepted connections by descriptor, with the peer's address when it could be read.
        var accepted: [Int32: String?] = [:]
        /// Connections the socket made, by descriptor, with the address dialled.
        var connected: [Int32: String] = [:]
        /// A failure waiting for the disconnect event that names its descriptor.
        var pending: HandshakeFailure?

        mutating func handle(_ event: SocketEvent) {
            switch event.event {
            case SocketEvent.accepted:
                accepted[event.fileDescriptor] = PeerAddress.of(event.fileDescriptor)
            case SocketEvent.connected:
                connected[event.fileDescriptor] = event.endpoint
            case SocketEvent.disconnected:
                let descriptor = event.fileDescriptor
                var side = HandshakeFailure.Side.unknown
                var peer: String?
                if let address = accepted.removeValue(forKey: descriptor) {
                    side = .accepted
                    peer = address
                } else if let address = connected.removeValue(forKey: descriptor) {
                    side = .connected
                    peer = address
                }
                if var failure = pending {
                    failure.side = side
                    failure.peer = peer
                    pending = nil
                    report(failure)
                }
            default:
                guard let failure = HandshakeFailure(reason: event) else { return }
                flush()
                if case .refused = failure.reason {
                    report(failure)
                } else {
                    pending = failure
                }
            }
        }

        /// Reports a failure whose disconnect event did not follow, without a peer.
        mutating func flush() {
            if let failure = pending {
                pending = nil
                report(failure)
            }
        }
    }
}

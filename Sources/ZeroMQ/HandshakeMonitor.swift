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
/// input on a busy two-core machine, 37 of 42 failures named their peer. Its descriptor may even
/// belong to another connection by then: an address read from a descriptor that a later
/// connection took over, or whose local port is not the socket's, is dropped rather than name the
/// wrong peer.
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
            monitoring: while !stopRequest.requested.load(ordering: .acquiring) {
                // Every event already queued is read, and each accepted peer's address with it,
                // before any failure is reported (reports log, which takes time).
                var events: [Correlator.Event] = []
                do {
                    guard let first = try pair.receive(timeout: .milliseconds(100), maxFrames: 2) else {
                        correlator.flush()
                        continue
                    }
                    var next: ReceivedMessage? = first
                    while let message = next {
                        if let event = SocketEvent(message) { events.append(Correlator.Event(event)) }
                        next = try pair.tryReceive(maxFrames: 2)
                    }
                } catch {
                    break
                }
                for event in Correlator.withoutReusedDescriptors(events) {
                    if event.event.event == SocketEvent.monitorStopped { break monitoring }
                    correlator.handle(event)
                }
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

        /// An event, with the peer's address of an accepted connection read as soon as it was received.
        struct Event {
            var event: SocketEvent
            var acceptedPeer: String?

            init(_ event: SocketEvent) {
                self.event = event
                acceptedPeer =
                    event.event == SocketEvent.accepted
                    ? PeerAddress.ofAccepted(event.fileDescriptor, at: event.endpoint) : nil
            }
        }

        /// `events` (in the order libzmq queued them), without the peer addresses that were read
        /// from a descriptor a later connection had already taken over.
        ///
        /// A connection that fails fast is closed before the monitor reads its accepted event, and
        /// the next connection accepted gets the same descriptor: the address read for the first
        /// is then the second's. libzmq queues the second's accepted event right after accepting
        /// it, so it is among the events read in the same pass unless the read fell in the
        /// microseconds between the two; when it gives the same address (no two live connections
        /// share one), the earlier address is dropped rather than name the wrong peer.
        static func withoutReusedDescriptors(_ events: [Event]) -> [Event] {
            var events = events
            var later: [Int32: String] = [:]
            for index in events.indices.reversed() where events[index].event.event == SocketEvent.accepted {
                let descriptor = events[index].event.fileDescriptor
                let peer = events[index].acceptedPeer
                if let peer, later[descriptor] == peer { events[index].acceptedPeer = nil }
                later[descriptor] = peer
            }
            return events
        }

        mutating func handle(_ resolved: Event) {
            let event = resolved.event
            switch event.event {
            case SocketEvent.accepted:
                accepted[event.fileDescriptor] = resolved.acceptedPeer
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

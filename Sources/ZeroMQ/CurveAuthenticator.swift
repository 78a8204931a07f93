import CZeroMQ
import Synchronization

/// Decides which CURVE clients a context's server sockets accept: a ZAP handler on its own thread.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` of the server socket's context about
/// every new CURVE connection, naming the socket's ``SocketOption/zapDomain(_:)``. Each domain has
/// its own policy, so that two server sockets of one process (a sidecar's input and the records
/// input of `lossd serve`) let different clients in: a set of allowed client public keys, or nil
/// for every client that knows the server's public key (encrypted, not authenticated). The
/// handler answers 200 for a CURVE client the domain's policy allows and 400 for anyone else, so
/// a refused client completes no handshake and delivers nothing; a domain it does not know is
/// refused too.
///
/// Start it before binding the server sockets, and ``stop()`` it after closing them.
public final class CurveAuthenticator: Sendable {
    /// The endpoint libzmq sends authentication requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// One answer of the handler, for logging and counting.
    public struct Decision: Sendable, Hashable {
        /// The ZAP domain of the server socket asked about.
        public var domain: String
        /// The client's IP address as libzmq reports it (no port).
        public var address: String
        /// The mechanism the client uses (`CURVE`, or `NULL` for a plain client).
        public var mechanism: String
        /// The client's long-term public key in Z85; empty when it does not use CURVE.
        public var clientKey: String
        /// Whether the client was let in.
        public var accepted: Bool

        /// Creates a decision from its parts.
        public init(domain: String, address: String, mechanism: String, clientKey: String, accepted: Bool) {
            self.domain = domain
            self.address = address
            self.mechanism = mechanism
            self.clientKey = clientKey
            self.accepted = accepted
        }
    }

    private let thread: SocketThread<Void>
    private let state: State

    /// What the handler thread and its owner share.
    private final class State: Sendable {
        let stopping = Atomic<Bool>(false)
        let rejected = Atomic<Int>(0)
    }

    /// Starts the handler in `context`.
    ///
    /// - Parameters:
    ///   - domains: For each ZAP domain, the Z85 public keys (40 characters each) that may
    ///     connect, or nil for any client that knows the server's key.
    ///   - onDecision: Called on the handler's thread for every request (for logging).
    public init(
        context: Context,
        domains: [String: Set<String>?],
        onDecision: @escaping @Sendable (Decision) -> Void = { _ in }
    ) throws(ZeroMQError) {
        for case let keys? in domains.values {
            for key in keys where key.utf8.count != 40 {
                throw .invalidArgument("a CURVE public key is 40 Z85 characters; '\(key)' has \(key.utf8.count)")
            }
        }
        let state = State()
        // Opened with nil once the handler is bound, or with the reason it could not bind.
        let bound = Latch<ZeroMQError?>()
        self.thread = try SocketThread(name: "zap-handler", context: context, type: .rep) { socket in
            do throws(ZeroMQError) {
                try socket.setOption(.linger(.zero))
                try socket.bind(Self.endpoint)
            } catch {
                bound.open(error)
                return
            }
            bound.open(nil)
            while !state.stopping.load(ordering: .acquiring) {
                guard let request = try socket.receive(timeout: .milliseconds(100), maxFrames: 16) else { continue }
                let reply = Self.answer(request, domains: domains, onDecision: onDecision)
                if reply.accepted == false { state.rejected.add(1, ordering: .relaxed) }
                try socket.send(reply.frames)
            }
        }
        self.state = state
        if let error = bound.wait() {
            _ = try? thread.join()
            throw error
        }
    }

    /// Starts a handler with one policy for every server socket whose ZAP domain is `domain`.
    ///
    /// - Parameter allowedClientKeys: Z85 public keys that may connect; nil allows any.
    public convenience init(
        context: Context, domain: String = "lossd", allowedClientKeys: Set<String>?,
        onDecision: @escaping @Sendable (Decision) -> Void = { _ in }
    ) throws(ZeroMQError) {
        try self.init(context: context, domains: [domain: allowedClientKeys], onDecision: onDecision)
    }

    /// The number of connection attempts refused so far.
    public var rejectedCount: Int { state.rejected.load(ordering: .relaxed) }

    /// Stops the handler and waits for its thread.
    public func stop() {
        state.stopping.store(true, ordering: .releasing)
        _ = try? thread.join()
    }

    /// The ZAP reply to one request (RFC 27): version, request id, status code, text, user id,
    /// metadata.
    private static func answer(
        _ request: ReceivedMessage, domains: [String: Set<String>?], onDecision: (Decision) -> Void
    ) -> (frames: [[UInt8]], accepted: Bool?) {
        let frames = request.frames
        guard frames.count >= 6, request.string(at: 0) == "1.0" else {
            // Not a request we understand: answer so that libzmq does not wait, and refuse.
            let id = frames.count > 1 ? request.bytes(at: 1) : []
            return ([Array("1.0".utf8), id, Array("500".utf8), Array("malformed ZAP request".utf8), [], []], nil)
        }
        let requestID = request.bytes(at: 1)
        func reply(_ status: String, _ text: String) -> [[UInt8]] {
            // The user id stays empty: a non-empty one kept clients of libzmq 4.3.5 from ever
            // delivering a message to a 4.3.4 server, though the handshake was accepted.
            [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), [], []]
        }
        var decision = Decision(
            domain: request.string(at: 2), address: request.string(at: 3), mechanism: request.string(at: 5),
            clientKey: "", accepted: false)
        guard decision.mechanism == "CURVE", frames.count >= 7, frames[6].count == 32 else {
            onDecision(decision)
            return (reply("400", "CURVE required"), false)
        }
        decision.clientKey = z85(frames[6])
        guard let policy = domains[decision.domain] else {
            onDecision(decision)
            return (reply("400", "unknown ZAP domain"), false)
        }
        decision.accepted = policy.map { $0.contains(decision.clientKey) } ?? true
        onDecision(decision)
        return (
            reply(decision.accepted ? "200" : "400", decision.accepted ? "OK" : "client key not allowed"),
            decision.accepted
        )
    }

    /// The Z85 text of a 32-byte key.
    static func z85(_ key: UnsafeRawBufferPointer) -> String {
        var text = [CChar](repeating: 0, count: 41)
        let bytes = Array(key)
        _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import CZeroMQ
import Synchronization

/// Decides which CURVE clients a context's server sockets accept: a ZAP handler on its own thread.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` of the server socket's context about
/// every new connection to a socket whose ``SocketOption/zapDomain(_:)`` is set. This handler
/// answers 200 for a CURVE client whose long-term public key is in the allowed set and 400 for
/// anyone else, so a client without an allowed key completes no handshake and delivers nothing.
/// With `allowedClientKeys` nil, every client that knows the server's public key is accepted:
/// the traffic is encrypted but not authenticated.
///
/// Start it before binding the server sockets, and ``stop()`` it after closing them.
public final class CurveAuthenticator: Sendable {
    /// The endpoint libzmq sends authentication requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

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
    ///   - allowedClientKeys: Z85 public keys (40 characters each) that may connect; nil allows any.
    ///   - onDecision: Called on the handler's thread for every request: the peer's address, its
    ///     public key in Z85, and whether it was accepted (for logging).
    public init(
        context: Context,
        allowedClientKeys: Set<String>?,
        onDecision: @escaping @Sendable (_ address: String, _ clientKey: String, _ accepted: Bool) -> Void = {
            _, _, _ in
        }
    ) throws(ZeroMQError) {
        if let keys = allowedClientKeys {
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
                let reply = Self.answer(request, allowed: allowedClientKeys, onDecision: onDecision)
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
        _ request: ReceivedMessage, allowed: Set<String>?,
        onDecision: (String, String, Bool) -> Void
    ) -> (frames: [[UInt8]], accepted: Bool?) {
        let frames = request.frames
        guard frames.count >= 6, request.string(at: 0) == "1.0" else {
            // Not a request we understand: answer so that libzmq does not wait, and refuse.
            let id = frames.count > 1 ? request.bytes(at: 1) : []
            return ([Array("1.0".utf8), id, Array("500".utf8), Array("malformed ZAP request".utf8), [], []], nil)
        }
        let requestID = request.bytes(at: 1)
        let address = request.string(at: 3)
        let mechanism = request.string(at: 5)
        guard mechanism == "CURVE", frames.count >= 7, frames[6].count == 32 else {
            onDecision(address, "", false)
            return ([Array("1.0".utf8), requestID, Array("400".utf8), Array("CURVE required".utf8), [], []], false)
        }
        let key = z85(frames[6])
        let accepted = allowed.map { $0.contains(key) } ?? true
        onDecision(address, key, accepted)
        // The user id stays empty: a non-empty one kept clients of libzmq 4.3.5 from ever
        // delivering a message to a 4.3.4 server, though the handshake was accepted.
        return (
            [
                Array("1.0".utf8), requestID, Array((accepted ? "200" : "400").utf8),
                Array((accepted ? "OK" : "client key not allowed").utf8), [], [],
            ],
            accepted
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

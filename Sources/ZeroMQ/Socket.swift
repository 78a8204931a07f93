import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ZeroMQ socket, owned by exactly one thread.
///
/// libzmq sockets are not thread-safe, so `Socket` is not `Sendable`: create it on the thread
/// that uses it (``SocketThread`` does that) and close it there. Blocking calls (sends without
/// `dontWait`, receives, polls) must never run on Swift's cooperative thread pool, where they would
/// starve every task; they belong on a dedicated thread. A socket keeps its ``Context`` alive.
///
/// Every call throws ``ZeroMQError``; ``ZeroMQError/terminated`` means the context was shut down
/// and the owning thread should close the socket and return.
public final class Socket {
    /// The pattern this socket was created with.
    public let type: SocketType
    /// The context the socket belongs to.
    public let context: Context
    /// The libzmq socket; `nil` once closed.
    private var handle: UnsafeMutableRawPointer?

    /// Creates a socket of `type` in `context`, on the calling thread, which then owns it.
    public init(_ context: Context, type: SocketType) throws(ZeroMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZeroMQError.last("create a \(type) socket")
        }
        self.type = type
        self.context = context
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Closes the socket; later calls throw ``ZeroMQError/socketClosed``. Messages still queued
    /// are kept for the ``SocketOption/linger(_:)`` time (zero unless set). Closing twice is fine.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { handle == nil }

    /// The open libzmq socket, or ``ZeroMQError/socketClosed``.
    func open() throws(ZeroMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw .socketClosed }
        return handle
    }

    // MARK: Options

    /// Sets one option; see ``SocketOption`` for which must come before binding or connecting.
    public func setOption(_ option: SocketOption) throws(ZeroMQError) {
        try option.apply(to: open())
    }

    /// Sets options in order.
    public func setOptions(_ options: [SocketOption]) throws(ZeroMQError) {
        for option in options {
            try setOption(option)
        }
    }

    // MARK: Attaching

    /// Listens at `address` (e.g. `tcp://127.0.0.1:5555`, `tcp://127.0.0.1:*`, `ipc:///tmp/x`).
    public func bind(_ address: String) throws(ZeroMQError) {
        if zmq_bind(try open(), address) != 0 {
            throw ZeroMQError.last("bind \(address)")
        }
    }

    /// Dials `address`; libzmq connects (and reconnects) in the background, so this succeeds
    /// before any peer exists.
    public func connect(_ address: String) throws(ZeroMQError) {
        if zmq_connect(try open(), address) != 0 {
            throw ZeroMQError.last("connect to \(address)")
        }
    }

    /// Binds or connects, as the endpoint says.
    public func attach(_ endpoint: Endpoint) throws(ZeroMQError) {
        switch endpoint.role {
        case .bind: try bind(endpoint.address)
        case .connect: try connect(endpoint.address)
        }
    }

    /// Attaches each endpoint in order; stops at the first failure.
    public func attach(_ endpoints: [Endpoint]) throws(ZeroMQError) {
        for endpoint in endpoints {
            try attach(endpoint)
        }
    }

    /// Parses a CZMQ-style list (`@tcp://127.0.0.1:5555,>ipc:///tmp/x`) and attaches each item;
    /// bare items take `defaultRole`. Returns what was attached.
    @discardableResult
    public func attach(_ list: String, defaultRole: Endpoint.Role) throws(ZeroMQError) -> [Endpoint] {
        let endpoints = try Endpoint.parseList(list, defaultRole: defaultRole)
        try attach(endpoints)
        return endpoints
    }

    /// The endpoint of the latest bind or connect as libzmq resolved it (`ZMQ_LAST_ENDPOINT`),
    /// e.g. `tcp://127.0.0.1:41873` after binding `tcp://127.0.0.1:*`; `nil` before any.
    public func lastEndpoint() throws(ZeroMQError) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        if zmq_getsockopt(try open(), ZMQ_LAST_ENDPOINT, &buffer, &size) != 0 {
            throw ZeroMQError.last("read the socket's last endpoint")
        }
        let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Waiting

    /// Waits until the socket has one of `events` (`ZMQ_POLLIN`, `ZMQ_POLLOUT`) or `deadline`
    /// passes (`nil`: forever); retries `EINTR`. Returns whether the socket is ready.
    func wait(for events: Int16, until deadline: ContinuousClock.Instant?) throws(ZeroMQError) -> Bool {
        var item = zmq_pollitem_t(socket: try open(), fd: 0, events: events, revents: 0)
        while true {
            let milliseconds = Poller.milliseconds(until: deadline)
            let count = zmq_poll(&item, 1, milliseconds)
            if count > 0 { return true }
            if count == 0 {
                if milliseconds < 0 { continue }
                guard let deadline, ContinuousClock.now < deadline else { return false }
                continue
            }
            let error = ZeroMQError.last("poll a \(type) socket")
            if error != .interrupted { throw error }
        }
    }
}

@available(*, unavailable, message: "a Socket belongs to the thread that created it; use SocketThread")
extension Socket: Sendable {}

import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a socket is ready for, or what a ``Poller`` waits for.
public struct PollEvents: OptionSet, Sendable, Hashable {
    /// The `ZMQ_POLL*` bits.
    public var rawValue: Int16

    /// Creates events from `ZMQ_POLL*` bits.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A whole message can be received without waiting.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without waiting.
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// Waits on several sockets at once (`zmq_poll`), e.g. a sidecar's input and a wake-up PAIR.
///
/// All the sockets must belong to the calling thread, so a `Poller` is not `Sendable` either.
public struct Poller {
    /// The sockets and what to wait for, in registration order.
    public private(set) var items: [(socket: Socket, events: PollEvents)] = []

    /// Creates an empty poller.
    public init() {}

    /// Adds `socket`, waiting for `events`; returns its index in ``poll(timeout:)``'s result.
    @discardableResult
    public mutating func register(_ socket: Socket, for events: PollEvents) -> Int {
        items.append((socket, events))
        return items.count - 1
    }

    /// Waits up to `timeout` (`nil`: forever) until some socket is ready; returns, per registered
    /// socket in order, the events it is ready for (empty for none, all empty on timeout).
    ///
    /// Signals (`EINTR`) are retried with the remaining time; a shut-down context throws
    /// ``ZeroMQError/terminated``.
    public func poll(timeout: Duration?) throws(ZeroMQError) -> [PollEvents] {
        var pollItems: [zmq_pollitem_t] = []
        pollItems.reserveCapacity(items.count)
        for item in items {
            pollItems.append(
                zmq_pollitem_t(socket: try item.socket.open(), fd: 0, events: item.events.rawValue, revents: 0))
        }
        let deadline = timeout.map { ContinuousClock.now.advanced(by: $0) }
        while true {
            let count = zmq_poll(&pollItems, Int32(pollItems.count), Poller.milliseconds(until: deadline))
            if count >= 0 {
                return pollItems.map { PollEvents(rawValue: $0.revents) }
            }
            let error = ZeroMQError.last("poll \(items.count) sockets")
            if error != .interrupted { throw error }
        }
    }

    /// The timeout for `zmq_poll`: whole milliseconds left until `deadline`, rounded up, `-1` for none.
    static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int {
        guard let deadline else { return -1 }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        return SocketOption.milliseconds(left + .nanoseconds(999_999))
    }
}

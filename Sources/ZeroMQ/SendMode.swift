/// How a send waits when the peer's queue is full (at its high-water mark) or no peer is there.
public enum SendMode: Sendable, Hashable {
    /// Wait until the message is queued, or for ``SocketOption/sendTimeout(_:)`` when one is set
    /// (then ``ZeroMQError/timedOut``).
    case blocking
    /// Do not wait: throw ``ZeroMQError/wouldBlock`` at once, which is backpressure.
    case dontWait
    /// Wait at most this long, then throw ``ZeroMQError/timedOut``.
    case timeout(Duration)
}

import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq context: the I/O threads and the registry of sockets and inproc endpoints.
///
/// libzmq contexts are thread-safe, so a `Context` may be shared freely; every ``Socket`` keeps
/// its context alive, and the context is terminated (`zmq_ctx_term`) when the last reference,
/// including the last socket's, goes away. Sockets made from a `Context` start with a linger of
/// zero (libzmq's `ZMQ_BLOCKY` is turned off), so closing one never hangs on an absent peer; give a
/// socket whose queued messages must survive its closing an explicit ``SocketOption/linger(_:)``.
///
/// `@unchecked Sendable` is honest: the only state is the libzmq handle, which libzmq documents as
/// safe to use from any thread, and it never changes after `init`.
public final class Context: @unchecked Sendable {
    /// The `void *` from `zmq_ctx_new`.
    let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` background I/O threads (one handles about a gigabyte a
    /// second).
    public init(ioThreads: Int = 1) throws(ZeroMQError) {
        guard ioThreads >= 1, let handle = zmq_ctx_new() else {
            throw ioThreads >= 1
                ? ZeroMQError.last("create a ZeroMQ context")
                : .invalidArgument("a context needs at least one I/O thread, not \(ioThreads)")
        }
        self.handle = handle
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
        if ioThreads != 1 {
            zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads))
        }
    }

    /// Makes every blocking call on this context's sockets, on every thread, fail with
    /// ``ZeroMQError/terminated`` and every later one too, so that socket threads can close
    /// their sockets and end. Safe to call from any thread, more than once.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // Every socket holds a reference, so none is open here; EINTR is the only failure to retry.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

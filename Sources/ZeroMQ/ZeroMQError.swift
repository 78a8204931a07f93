import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from libzmq or from this wrapper, phrased so that a person can act on it.
///
/// The first three cases are the conditions a caller branches on: ``wouldBlock`` is backpressure,
/// ``timedOut`` is silence, ``terminated`` means the ``Context`` is shutting down and the calling
/// thread should close its socket and return. `EINTR` is retried inside this module wherever a retry
/// is safe (sends, receives, polls, context termination), so ``interrupted`` is rare in practice.
public enum ZeroMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `dontWait` send found no room (`EAGAIN`): the peer's queue is at its high-water mark,
    /// or no peer is connected yet.
    case wouldBlock
    /// A send or receive gave up after its timeout (`EAGAIN` after waiting).
    case timedOut
    /// The context was shut down (`ETERM`): close the socket and end the thread.
    case terminated
    /// A signal interrupted a call that is not retried (`EINTR`).
    case interrupted
    /// An endpoint string could not be understood; `reason` says what to change.
    case invalidEndpoint(String, reason: String)
    /// An argument was rejected before reaching libzmq; the text says which and why.
    case invalidArgument(String)
    /// The socket was used after ``Socket/close()``.
    case socketClosed
    /// libzmq failed: `operation` is what was attempted (e.g. `bind tcp://127.0.0.1:5555`),
    /// `errno` and `message` (from `zmq_strerror`) say why.
    case failed(operation: String, errno: Int32, message: String)

    /// Classifies the calling thread's `zmq_errno()` after `operation` failed.
    static func last(_ operation: @autoclosure () -> String) -> ZeroMQError {
        ZeroMQError(errno: zmq_errno(), operation: operation())
    }

    /// Classifies `code` as the reason `operation` failed.
    init(errno code: Int32, operation: @autoclosure () -> String) {
        switch code {
        case EAGAIN: self = .wouldBlock
        case EINTR: self = .interrupted
        case ETERM: self = .terminated
        default: self = .failed(operation: operation(), errno: code, message: ZeroMQError.text(code))
        }
    }

    /// The `zmq_strerror` text for `code`.
    static func text(_ code: Int32) -> String {
        guard let cString = zmq_strerror(code) else { return "error \(code)" }
        return String(cString: cString)
    }

    /// The errno behind this error, when there is one (`ETERM` is libzmq's own, outside the
    /// system's range).
    public var errno: Int32? {
        switch self {
        case .wouldBlock, .timedOut: return EAGAIN
        case .terminated: return ETERM
        case .interrupted: return EINTR
        case .socketClosed: return ENOTSOCK
        case .failed(_, let code, _): return code
        case .invalidEndpoint, .invalidArgument: return EINVAL
        }
    }

    /// A sentence for a person: what failed, why, and what to try.
    public var description: String {
        switch self {
        case .wouldBlock:
            return "the send would block: the receiver is not keeping up (its queue is at the high-water mark)"
        case .timedOut:
            return "timed out waiting for the peer"
        case .terminated:
            return "the ZeroMQ context is shutting down"
        case .interrupted:
            return "interrupted by a signal"
        case .invalidEndpoint(let text, let reason):
            return "invalid endpoint \"\(text)\": \(reason)"
        case .invalidArgument(let text):
            return text
        case .socketClosed:
            return "the socket is already closed"
        case .failed(let operation, let code, let message):
            let hint = ZeroMQError.hint(for: code, operation: operation)
            return "cannot \(operation): \(message)" + (hint.isEmpty ? "" : " — \(hint)")
        }
    }

    /// Advice for the errno values a lossd operator is likely to meet: a statement, not a question,
    /// since callers go on with a sentence of their own ("… Choose another endpoint with --input.").
    private static func hint(for code: Int32, operation: String) -> String {
        switch code {
        case EADDRINUSE:
            return "another lossd (or another program) is probably bound there already"
        case EACCES:
            return "permission denied: use a port above 1024 or an ipc path in a writable directory"
        case ENOENT where operation.contains("ipc://"):
            return "the ipc path's directory may not exist"
        case EADDRNOTAVAIL, ENODEV:
            return "the address is not one of this host's interfaces; use 127.0.0.1 or a local address"
        case EPROTONOSUPPORT:
            return "this libzmq was built without that transport"
        case EINVAL where operation.hasPrefix("bind") || operation.hasPrefix("connect"):
            return "check the endpoint, e.g. tcp://127.0.0.1:5555, ipc:///tmp/lossd.sock or inproc://name"
        case EMFILE:
            return "too many open files: raise the limit (ulimit -n) or use fewer sockets"
        default:
            return ""
        }
    }
}

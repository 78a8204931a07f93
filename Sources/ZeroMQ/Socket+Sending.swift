import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Socket {
    /// Sends one multipart message whose frames are copied from `frames`.
    ///
    /// The message is atomic: either no frame is queued (``ZeroMQError/wouldBlock`` or
    /// ``ZeroMQError/timedOut`` per `mode`) or all are. `mode` governs only the wait for room for
    /// the first frame; libzmq accepts the rest of a started message without waiting.
    public func send(_ frames: [UnsafeRawBufferPointer], mode: SendMode = .blocking) throws(ZeroMQError) {
        try sendFrames(count: frames.count, mode: mode) { socket, index, flags in
            zmq_send(socket, frames[index].baseAddress, frames[index].count, flags)
        }
    }

    /// Sends one multipart message whose frames are copied from byte arrays.
    public func send(_ frames: [[UInt8]], mode: SendMode = .blocking) throws(ZeroMQError) {
        try sendFrames(count: frames.count, mode: mode) { socket, index, flags in
            frames[index].withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }

    /// Sends a single-frame message holding the UTF-8 bytes of `text` (e.g. a JSON record).
    public func send(_ text: String, mode: SendMode = .blocking) throws(ZeroMQError) {
        var text = text
        let outcome = text.withUTF8 { utf8 in
            Result { () throws(ZeroMQError) in try send([UnsafeRawBufferPointer(utf8)], mode: mode) }
        }
        try outcome.get()
    }

    /// Sends one multipart message without copying the payloads: libzmq reads `frames` in place
    /// until it has written them out, and `owner` is retained until then.
    ///
    /// `owner` must keep the bytes `frames` point into alive and unchanged while it is retained;
    /// it is released on a libzmq I/O thread (or, over inproc, by whoever frees the received
    /// message), hence `Sendable`. Use it for large tensors that are already in memory.
    public func send<Owner: AnyObject & Sendable>(
        zeroCopy frames: [UnsafeRawBufferPointer], owner: Owner, mode: SendMode = .blocking
    ) throws(ZeroMQError) {
        try sendFrames(count: frames.count, mode: mode) { socket, index, flags in
            var message = zmq_msg_t()
            let frame = frames[index]
            if let base = frame.baseAddress, frame.count > 0 {
                let retained = Unmanaged<AnyObject>.passRetained(owner).toOpaque()
                let status = zmq_msg_init_data(
                    &message, UnsafeMutableRawPointer(mutating: base), frame.count,
                    { _, hint in
                        if let hint { Unmanaged<AnyObject>.fromOpaque(hint).release() }
                    },
                    retained)
                if status != 0 {
                    Unmanaged<AnyObject>.fromOpaque(retained).release()
                    return status
                }
            } else {
                zmq_msg_init(&message)
            }
            let sent = zmq_msg_send(&message, socket, flags)
            if sent < 0 {
                // The message still owns the data; closing it releases `owner` (or drops the frame).
                let code = zmq_errno()
                zmq_msg_close(&message)
                errno = code
            }
            return sent
        }
    }

    /// Sends `count` frames through `sendFrame(socket, index, flags)` (which returns libzmq's
    /// status and leaves errno set), waiting for the first as `mode` says and retrying `EINTR`.
    private func sendFrames(
        count: Int, mode: SendMode,
        _ sendFrame: (UnsafeMutableRawPointer, Int, Int32) -> Int32
    ) throws(ZeroMQError) {
        guard count > 0 else {
            throw .invalidArgument("a ZeroMQ message needs at least one frame")
        }
        let socket = try open()
        let deadline: ContinuousClock.Instant?
        if case .timeout(let duration) = mode {
            deadline = ContinuousClock.now.advanced(by: duration)
        } else {
            deadline = nil
        }
        for index in 0..<count {
            let more: Int32 = index + 1 < count ? ZMQ_SNDMORE : 0
            while true {
                var flags = more
                if index == 0 && mode != .blocking {
                    flags |= ZMQ_DONTWAIT
                }
                if sendFrame(socket, index, flags) >= 0 { break }
                let code = zmq_errno()
                let error = ZeroMQError(errno: code, operation: "send on a \(type) socket")
                switch error {
                case .interrupted:
                    continue
                case .wouldBlock where index == 0 && deadline != nil:
                    guard try wait(for: Int16(ZMQ_POLLOUT), until: deadline) else { throw .timedOut }
                    continue
                case .wouldBlock where mode == .dontWait && index == 0:
                    throw .wouldBlock
                case .wouldBlock:
                    // A blocking send that hit ZMQ_SNDTIMEO.
                    throw .timedOut
                default:
                    throw error
                }
            }
        }
    }
}

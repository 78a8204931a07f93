import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Socket {
    /// Waits for the next message; honours ``SocketOption/receiveTimeout(_:)`` when one is set
    /// (then throws ``ZeroMQError/timedOut``).
    ///
    /// Keeps at most `maxFrames` frames; the rest of a longer message is drained and counted in
    /// ``ReceivedMessage/droppedFrameCount``, so the next receive starts at a message boundary.
    public func receive(maxFrames: Int = 64) throws(ZeroMQError) -> ReceivedMessage {
        guard let message = try receiveMessage(flags: 0, maxFrames: maxFrames) else {
            throw .timedOut
        }
        return message
    }

    /// Waits at most `timeout` for the next message; returns `nil` if none came.
    public func receive(timeout: Duration, maxFrames: Int = 64) throws(ZeroMQError) -> ReceivedMessage? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let message = try receiveMessage(flags: ZMQ_DONTWAIT, maxFrames: maxFrames) {
                return message
            }
            guard try wait(for: Int16(ZMQ_POLLIN), until: deadline) else { return nil }
        }
    }

    /// Returns the next message if one is already queued, `nil` otherwise; never waits.
    public func tryReceive(maxFrames: Int = 64) throws(ZeroMQError) -> ReceivedMessage? {
        try receiveMessage(flags: ZMQ_DONTWAIT, maxFrames: maxFrames)
    }

    /// Receives one whole message, waiting for its first frame as `flags` says; `nil` when
    /// `ZMQ_DONTWAIT` found nothing queued.
    private func receiveMessage(flags: Int32, maxFrames: Int) throws(ZeroMQError) -> ReceivedMessage? {
        guard maxFrames >= 1 else {
            throw .invalidArgument("a receive must keep at least one frame, not \(maxFrames)")
        }
        let socket = try open()
        let first = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        zmq_msg_init(first)
        guard try receiveFrame(first, from: socket, flags: flags) else {
            zmq_msg_close(first)
            first.deallocate()
            if flags & ZMQ_DONTWAIT != 0 { return nil }
            throw .timedOut
        }
        var storage = [first]
        var more = zmq_msg_more(first) != 0
        var dropped = 0
        var droppedBytes = 0
        var complete = false
        defer {
            if !complete {
                for message in storage {
                    zmq_msg_close(message)
                    message.deallocate()
                }
            }
        }
        // Once the first frame has arrived the rest of the message is queued: no waiting.
        while more {
            let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(message)
            let keep = storage.count < maxFrames
            if keep {
                storage.append(message)
            }
            defer {
                if !keep {
                    zmq_msg_close(message)
                    message.deallocate()
                }
            }
            guard try receiveFrame(message, from: socket, flags: 0) else { throw .timedOut }
            more = zmq_msg_more(message) != 0
            if !keep {
                dropped += 1
                droppedBytes += zmq_msg_size(message)
            }
        }
        complete = true
        return ReceivedMessage(storage: storage, droppedFrameCount: dropped, droppedBytes: droppedBytes)
    }

    /// Receives one frame into `message`, retrying `EINTR`; `false` on `EAGAIN`.
    private func receiveFrame(
        _ message: UnsafeMutablePointer<zmq_msg_t>, from socket: UnsafeMutableRawPointer, flags: Int32
    ) throws(ZeroMQError) -> Bool {
        while zmq_msg_recv(message, socket, flags) < 0 {
            switch ZeroMQError.last("receive on a \(type) socket") {
            case .interrupted: continue
            case .wouldBlock: return false
            case let error: throw error
            }
        }
        return true
    }
}

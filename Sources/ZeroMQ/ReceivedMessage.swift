import CZeroMQ

/// One multipart message as it came off a socket, its payloads left where libzmq put them.
///
/// ``frames`` views libzmq's own buffers in place: a 30 MB tensor is never copied. Each frame's
/// `zmq_msg_t` lives in its own heap allocation, so the views (even of small frames, which libzmq
/// stores inside the `zmq_msg_t` itself) keep stable addresses, and all of them are released
/// (`zmq_msg_close`) when the message is freed. A view is valid only while the message is alive:
/// keep the message in scope, or use ``withFrames(_:)``, while reading them.
///
/// `@unchecked Sendable` is honest: after `init` nothing is mutated, the bytes are only read, and
/// libzmq releases a received message's buffers with atomic reference counts, so the message may be
/// received on a socket thread and read and freed on a worker thread.
///
/// A message with more frames than the receiver allowed keeps only the first ones; the rest were
/// drained and freed so that the next receive starts at the next message. Check ``isComplete``.
public final class ReceivedMessage: @unchecked Sendable {
    /// The received `zmq_msg_t`s, one allocation each.
    private let storage: [UnsafeMutablePointer<zmq_msg_t>]
    /// The frames kept, in order, viewed in place.
    public let frames: [UnsafeRawBufferPointer]
    /// The bytes of the frames kept.
    public let totalBytes: Int
    /// Frames past the receiver's limit that were drained and freed; 0 for a complete message.
    public let droppedFrameCount: Int
    /// The bytes of the dropped frames.
    public let droppedBytes: Int

    /// Takes ownership of initialised, received messages.
    init(storage: [UnsafeMutablePointer<zmq_msg_t>], droppedFrameCount: Int, droppedBytes: Int) {
        self.storage = storage
        self.frames = storage.map { message in
            let size = zmq_msg_size(message)
            guard size > 0, let data = zmq_msg_data(message) else {
                return UnsafeRawBufferPointer(start: nil, count: 0)
            }
            return UnsafeRawBufferPointer(start: data, count: size)
        }
        self.totalBytes = frames.reduce(0) { $0 + $1.count }
        self.droppedFrameCount = droppedFrameCount
        self.droppedBytes = droppedBytes
    }

    deinit {
        for message in storage {
            zmq_msg_close(message)
            message.deallocate()
        }
    }

    /// Whether every frame the sender sent is in ``frames``.
    public var isComplete: Bool { droppedFrameCount == 0 }

    /// How many frames the sender sent, kept or dropped.
    public var sentFrameCount: Int { frames.count + droppedFrameCount }

    /// The frame at `index`, viewed in place.
    public subscript(index: Int) -> UnsafeRawBufferPointer { frames[index] }

    /// Runs `body` with the frames, keeping the message alive until it returns.
    public func withFrames<Result>(
        _ body: ([UnsafeRawBufferPointer]) throws -> Result
    ) rethrows -> Result {
        try withExtendedLifetime(self) { try body(frames) }
    }

    /// A copy of the frame at `index`.
    public func bytes(at index: Int) -> [UInt8] {
        withExtendedLifetime(self) { Array(frames[index]) }
    }

    /// The frame at `index` decoded as UTF-8 (invalid sequences repaired), e.g. a JSON header.
    public func string(at index: Int) -> String {
        withExtendedLifetime(self) { String(decoding: frames[index], as: UTF8.self) }
    }
}

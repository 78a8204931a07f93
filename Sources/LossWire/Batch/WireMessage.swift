/// One batch message as it came off the wire: the frames, viewed in place, and what keeps them alive.
///
/// A message never copies its frames. Whoever received them (a ZeroMQ socket, a recording reader, a
/// test) hands over ownership through `release`, which runs exactly once, when the last reference to
/// the message goes away. The frames stay valid and unchanged for the message's whole lifetime.
///
/// `@unchecked Sendable` is honest here: every stored property is a `let` set in `init`, the frame
/// memory is never written through these views, and the owner promises (by the contract of
/// ``init(frames:sentFrameCount:receiveTimeNs:release:)``) not to mutate or free it before `release` runs. Sharing
/// a message between threads therefore only ever shares immutable bytes.
public final class WireMessage: @unchecked Sendable {
    /// The frames in wire order: frame 0 is the JSON header, then the tensors.
    public let frames: [UnsafeRawBufferPointer]
    /// How many frames the sender sent: more than `frames.count` when the receiver kept only the
    /// first ones (a message with more frames than any batch has), so the decoder can say so.
    public let sentFrameCount: Int
    /// When the message was received, in nanoseconds since the Unix epoch; 0 if unknown.
    public let receiveTimeNs: UInt64
    /// The sum of the frames' byte counts.
    public let totalBytes: Int
    private let release: @Sendable () -> Void

    /// Wraps frames owned elsewhere, zero-copy.
    ///
    /// - Parameters:
    ///   - frames: views of the frames. The memory must stay valid and unmodified until `release` runs.
    ///   - sentFrameCount: how many frames the sender sent, when the receiver kept fewer; by
    ///     default, `frames.count`.
    ///   - receiveTimeNs: the receive time in nanoseconds since the Unix epoch, or 0.
    ///   - release: frees the frames; runs once, when the message is deinitialized, on whatever thread
    ///     drops the last reference.
    public init(
        frames: [UnsafeRawBufferPointer],
        sentFrameCount: Int? = nil,
        receiveTimeNs: UInt64,
        release: @escaping @Sendable () -> Void
    ) {
        self.frames = frames
        self.sentFrameCount = max(sentFrameCount ?? frames.count, frames.count)
        self.receiveTimeNs = receiveTimeNs
        // A sum of real buffers' sizes cannot overflow Int: they all live in one address space.
        self.totalBytes = frames.reduce(0) { $0 + $1.count }
        self.release = release
    }

    /// Copies `frames` into one owned allocation; each frame starts on a 16-byte boundary.
    ///
    /// Meant for tests, generators and small messages; receivers should use the zero-copy initializer.
    public convenience init(copying frames: [[UInt8]], receiveTimeNs: UInt64 = 0) {
        let alignment = 16
        var offsets: [Int] = []
        offsets.reserveCapacity(frames.count)
        var size = 0
        for frame in frames {
            size = (size + alignment - 1) / alignment * alignment
            offsets.append(size)
            size += frame.count
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: alignment)
        var views: [UnsafeRawBufferPointer] = []
        views.reserveCapacity(frames.count)
        for (frame, offset) in zip(frames, offsets) {
            let target = UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + frame.count)])
            frame.withUnsafeBytes { target.copyMemory(from: $0) }
            views.append(UnsafeRawBufferPointer(target))
        }
        let owned = OwnedAllocation(storage)
        self.init(frames: views, receiveTimeNs: receiveTimeNs) { owned.free() }
    }

    deinit {
        release()
    }
}

/// An allocation freed exactly once by its owning message's release closure.
///
/// `@unchecked Sendable`: the pointer is only dereferenced through the message's read-only frame
/// views, and ``free()`` runs once from the message's `deinit`, after every view is gone.
final class OwnedAllocation: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    init(_ storage: UnsafeMutableRawBufferPointer) {
        self.storage = storage
    }

    func free() {
        storage.deallocate()
    }
}

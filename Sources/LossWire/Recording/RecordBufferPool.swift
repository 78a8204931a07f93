import Synchronization

/// Page-aligned read buffers that go back to a free list when the message viewing them is done, so
/// that a long replay reuses a few buffers instead of faulting in fresh pages for every record.
///
/// Buffers return from whatever thread drops the last reference to their message, hence the lock.
final class RecordBufferPool: Sendable {
    private let free = Mutex<[UnsafeMutableRawBufferPointerBox]>([])
    /// The most free buffers kept; more are deallocated.
    let maxFree: Int

    init(maxFree: Int = 8) {
        self.maxFree = maxFree
    }

    /// A buffer of at least `count` bytes: a free one that is large enough, else a new one.
    func take(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let reused: UnsafeMutableRawBufferPointer? = free.withLock { buffers in
            guard let index = buffers.lastIndex(where: { $0.buffer.count >= count }) else { return nil }
            return buffers.remove(at: index).buffer
        }
        if let reused { return reused }
        return .allocate(byteCount: max(count, 4096), alignment: 4096)
    }

    /// Puts `buffer` back, or frees it when enough are waiting; frees the smallest first.
    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        let excess: UnsafeMutableRawBufferPointer? = free.withLock { buffers in
            buffers.append(UnsafeMutableRawBufferPointerBox(buffer: buffer))
            guard buffers.count > maxFree,
                let smallest = buffers.indices.min(by: { buffers[$0].buffer.count < buffers[$1].buffer.count })
            else { return nil }
            return buffers.remove(at: smallest).buffer
        }
        excess?.deallocate()
    }

    deinit {
        free.withLock { buffers in
            for box in buffers { box.buffer.deallocate() }
            buffers.removeAll()
        }
    }
}

/// A free buffer in the pool's list. `@unchecked Sendable`: a buffer on the free list belongs to
/// the pool alone, and it moves in and out only under the pool's lock.
struct UnsafeMutableRawBufferPointerBox: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
}

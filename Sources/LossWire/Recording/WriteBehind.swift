#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a file written once, sequentially, from filling the page cache: the write-back of each
/// new stretch starts at once, and what lies more than ``window`` bytes behind the end, once on
/// the disk, leaves the page cache.
///
/// Why: a recording is written once and read much later, so its pages in the cache only push out
/// pages others need; and where the page cache grows into memory the host of a virtual machine has
/// taken back, every new page costs a fault in the host. On the 2-vCPU VM lossd is measured on, a
/// plain buffered write of 2.2 GB ran at 140–430 MB/s and the same write with this 3–10 times
/// faster, at 0.47–1.7 GB/s (docs/PERFORMANCE.md, "Recording"). The page cache then holds about
/// ``window`` bytes of the file, and a writer faster than the disk waits for it (the kernel's
/// dirty-page limits) instead of piling up dirty pages.
///
/// Advisory only (`posix_fadvise`), on Linux; elsewhere it does nothing. One owner: the writer.
public struct WriteBehind: Sendable {
    /// The bytes behind the end that may stay in the page cache.
    public let window: Int
    /// The bytes whose write-back has been started.
    private var started: UInt64 = 0
    /// Where the next request to drop pages starts.
    private var dropFrom: UInt64 = 0

    /// Creates a policy that keeps at most about `window` bytes (at least 1 MiB) behind the end.
    public init(window: Int) {
        self.window = max(window, 1 << 20)
    }

    /// Call after the first `end` bytes of the file behind `fd` have been written.
    public mutating func written(fd: Int32, upTo end: UInt64) {
        #if os(Linux)
        // On dirty pages, DONTNEED starts their write-back (and keeps them until it is done).
        if end > started {
            _ = posix_fadvise(fd, off_t(started), off_t(end - started), POSIX_FADV_DONTNEED)
            started = end
        }
        let window = UInt64(self.window)
        guard end > window else { return }
        let dropEnd = (end - window) & ~4095
        guard dropEnd > dropFrom else { return }
        _ = posix_fadvise(fd, off_t(dropFrom), off_t(dropEnd - dropFrom), POSIX_FADV_DONTNEED)
        // Pages still being written back stay; the next call looks at the last window again.
        dropFrom = max(dropFrom, dropEnd - min(dropEnd, window))
        #endif
    }
}

/// Pushes a benchmark's data out of the CPU caches by writing a buffer larger than them.
///
/// 64 MiB: more than the last-level cache of the machines lossd runs on (32 MiB per core complex
/// on the EPYC it was measured on). The sweep reads, so that it leaves no dirty lines whose
/// write-back would be charged to the timed run. It is not timed; it costs a few milliseconds.
final class CacheEviction {
    private let buffer: UnsafeMutableRawBufferPointer
    /// The sum of the bytes read, kept so that the reads are not optimized away.
    private(set) var checksum: UInt64 = 0

    init(bytes: Int = 64 << 20) {
        buffer = .allocate(byteCount: bytes, alignment: 64)
        // Written, so that every page is backed by memory of its own (not the shared zero page).
        buffer.initializeMemory(as: UInt8.self, repeating: 1)
    }

    deinit {
        buffer.deallocate()
    }

    /// Reads one byte per cache line of the whole buffer.
    func evict() {
        var sum: UInt64 = 0
        var offset = 0
        while offset < buffer.count {
            sum &+= UInt64(buffer[offset])
            offset &+= 64
        }
        checksum &+= sum
    }
}

/// One owner at a time: a benchmark run on one thread.
@available(*, unavailable)
extension CacheEviction: Sendable {}

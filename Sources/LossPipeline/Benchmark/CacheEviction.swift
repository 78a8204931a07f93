/// Pushes a benchmark's data out of the CPU caches by writing a buffer larger than them.
///
/// 64 MiB: more than the last-level cache of the machines lossd runs on (32 MiB per core complex
/// on the EPYC it was measured on). Writing, rather than reading, also evicts lines the caches
/// hold as shared. The sweep is not timed; it costs a few milliseconds.
final class CacheEviction {
    private let buffer: UnsafeMutableRawBufferPointer
    private var pass: UInt8 = 0

    init(bytes: Int = 64 << 20) {
        buffer = .allocate(byteCount: bytes, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        buffer.deallocate()
    }

    /// Writes one byte per cache line of the whole buffer.
    func evict() {
        pass &+= 1
        var offset = 0
        while offset < buffer.count {
            buffer[offset] = pass
            offset &+= 64
        }
    }
}

/// One owner at a time: a benchmark run on one thread.
@available(*, unavailable)
extension CacheEviction: Sendable {}

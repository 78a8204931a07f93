#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file, unmapped when the last reference goes.
///
/// Messages read from a mapped recording keep their map alive, so the map outlives the reader
/// while any of them is in use. A file truncated by another process while mapped makes reads
/// past its new end fault (SIGBUS): recordings are written once and then only read.
///
/// `@unchecked Sendable` is honest: the mapping is read-only and never changes until `deinit`.
final class MappedFile: @unchecked Sendable {
    /// The first byte of the map.
    let bytes: UnsafeRawBufferPointer

    /// Maps the first `size` bytes of `fd` (more than 0); returns `errno` on failure.
    static func map(fd: Int32, size: Int) -> Result<MappedFile, PosixErrno> {
        let address = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else { return .failure(PosixErrno(code: errno)) }
        #if os(Linux)
        // Read ahead generously when the file is not in memory yet; the pages are read in order.
        _ = madvise(address, size, MADV_SEQUENTIAL)
        #endif
        return .success(MappedFile(UnsafeRawBufferPointer(start: address, count: size)))
    }

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Asks the kernel to map the pages of `range` now, in one call, rather than one fault per
    /// page group as they are touched. Best effort: older kernels ignore it.
    func populate(_ range: Range<Int>) {
        #if os(Linux)
        guard let base = bytes.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let populateRead: Int32 = 22  // MADV_POPULATE_READ, Linux 5.14
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), range.upperBound - start, populateRead)
        #endif
    }

    deinit {
        if let base = bytes.baseAddress { _ = munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

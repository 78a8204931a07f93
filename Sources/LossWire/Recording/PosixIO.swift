#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over POSIX file calls that retry on EINTR and partial transfers, for the
/// recording reader and writer.
///
/// Written by hand rather than with swift-system (which the modules above LossWire use) because
/// LossWire depends on nothing but SSDLoss: the fuzzers compile it with `swiftc` alone.
enum PosixIO {
    /// Writes all of `vectors`, in order, with as few `writev` calls as the kernel allows; returns
    /// `errno` on failure. `vectors` is consumed: on return it describes what was left unwritten.
    static func writeAll(_ fd: Int32, _ vectors: inout [iovec]) -> Int32? {
        let maxVectors = 1024  // IOV_MAX on Linux and macOS
        var index = 0
        while index < vectors.count {
            if vectors[index].iov_len == 0 {
                index += 1
                continue
            }
            let count = min(vectors.count - index, maxVectors)
            let written = vectors.withUnsafeBufferPointer { all in
                all.baseAddress.map { writev(fd, $0 + index, Int32(count)) } ?? 0
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            guard written > 0 else { return EIO }
            var remaining = written
            while remaining > 0 {
                if remaining >= vectors[index].iov_len {
                    remaining -= vectors[index].iov_len
                    vectors[index].iov_len = 0
                    index += 1
                } else {
                    vectors[index].iov_base = vectors[index].iov_base.map { $0 + remaining }
                    vectors[index].iov_len -= remaining
                    remaining = 0
                }
            }
        }
        return nil
    }

    /// Reads into `buffer` from `offset` until it is full or the file ends; returns the bytes read,
    /// or `errno`. Leaves the descriptor's own position alone.
    static func readFully(
        _ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64
    ) -> Result<Int, PosixErrno> {
        guard let base = buffer.baseAddress else { return .success(0) }
        var total = 0
        while total < buffer.count {
            let count = pread(fd, base + total, buffer.count - total, off_t(offset) + off_t(total))
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(PosixErrno(code: errno))
            }
            if count == 0 { break }
            total += count
        }
        return .success(total)
    }

    /// Closes `fd`, ignoring errors (there is nothing useful to do about them after a flush).
    static func closeFile(_ fd: Int32) {
        _ = close(fd)
    }

    /// The size of the open file, or `nil` if `fstat` fails.
    static func fileSize(_ fd: Int32) -> UInt64? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return UInt64(max(0, info.st_size))
    }
}

/// An `errno` value as an error.
struct PosixErrno: Error {
    var code: Int32
}

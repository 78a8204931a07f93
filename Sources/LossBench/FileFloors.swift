import LossWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The floors of reading and writing recordings: what the file system does with the same bytes
/// when nothing else is done with them.
enum FileFloors {
    /// Reads `path` from start to end with `read` into one reused 1 MiB buffer, as `dd` does;
    /// returns the bytes read.
    static func sequentialRead(_ path: String) throws(BenchError) -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let count = read(fd, buffer, 1 << 20)
            if count < 0 {
                if errno == EINTR { continue }
                throw .file(path: path, operation: "read", errno: errno)
            }
            if count == 0 { return total }
            total += count
        }
    }

    /// Creates `path` and writes `message`'s frames `count` times from the message's own memory,
    /// one `write` per frame (37 MB for an SSD300 tensor): the bytes a recording holds, in the
    /// largest sequential writes; with `writeBehind`, keeping the page cache as a recording does.
    /// Returns the bytes written; the caller removes the file.
    static func sequentialWrite(
        _ path: String, message: WireMessage, count: Int, writeBehind: WriteBehind? = nil
    ) throws(BenchError) -> Int {
        var writeBehind = writeBehind
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .file(path: path, operation: "create", errno: errno) }
        defer { close(fd) }
        var total = 0
        for _ in 0..<count {
            for frame in message.frames {
                guard var next = frame.baseAddress else { continue }
                let end = next + frame.count
                while next < end {
                    let written = write(fd, next, end - next)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { throw .file(path: path, operation: "write", errno: errno) }
                    next += written
                }
                total += frame.count
            }
            writeBehind?.written(fd: fd, upTo: UInt64(total))
        }
        return total
    }

    /// Removes `path`, ignoring a file that is already gone.
    static func remove(_ path: String) {
        _ = unlink(path)
    }
}

/// A benchmark that could not run: a file it needs could not be made or read, or the measured code
/// did not do all its work.
public enum BenchError: Error, CustomStringConvertible, Sendable {
    /// A file operation failed.
    case file(path: String, operation: String, errno: Int32)
    /// The measured run did not do what it must for its time to mean anything.
    case invalidRun(String)

    /// A sentence saying what failed.
    public var description: String {
        switch self {
        case .file(let path, let operation, let code):
            "cannot \(operation) \(path): \(String(cString: strerror(code))) (errno \(code)); "
                + "choose another folder with --directory"
        case .invalidRun(let reason):
            "the run is not valid: \(reason)"
        }
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file's contents so that a reader, or the file after a crash, holds either the old
/// contents or the new ones, never a mix: write a temporary file in the same folder, fsync it,
/// rename it over the target, fsync the folder.
enum AtomicFile {
    /// Why the file could not be replaced: the step that failed and the system's reason.
    struct Failure: Error, Sendable {
        /// The step: "create", "write", "fsync" or "rename".
        var operation: String
        /// `strerror` of the failure.
        var reason: String
    }

    /// Replaces the file at `path` with `bytes`.
    static func replace(_ path: String, with bytes: [UInt8]) throws(Failure) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(operation: "create", reason: Self.lastError()) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = Self.lastError()
                unlink(temporary)
                throw Failure(operation: "write", reason: reason)
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            let reason = Self.lastError()
            unlink(temporary)
            throw Failure(operation: "fsync", reason: reason)
        }
        close(fd)
        closed = true
        guard rename(temporary, path) == 0 else {
            let reason = Self.lastError()
            unlink(temporary)
            throw Failure(operation: "rename", reason: reason)
        }
        // The rename itself is durable only once the folder is synced.
        let folder = (path as NSString).deletingLastPathComponent
        let folderFD = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        if folderFD >= 0 {
            _ = fsync(folderFD)
            close(folderFD)
        }
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}

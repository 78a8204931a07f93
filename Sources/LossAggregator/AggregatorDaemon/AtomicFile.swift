import Foundation
import LossPipeline
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file's contents so that a reader, or the file after a crash, holds either the old
/// contents or the new ones, never a mix: write a temporary file in the same folder, fsync it,
/// rename it over the target, fsync the folder.
///
/// Files are opened, written and closed through swift-system; `fsync`, `rename` and `unlink`,
/// which it does not wrap, are called directly.
enum AtomicFile {
    /// Why the file could not be replaced: the step that failed and the system's reason.
    struct Failure: Error, Sendable {
        /// The step: "create", "write", "fsync" or "rename".
        var operation: String
        /// The system's description of the failure.
        var reason: String
    }

    /// Replaces the file at `path` with `bytes`.
    static func replace(_ path: String, with bytes: [UInt8]) throws(Failure) {
        let temporary = "\(path).tmp-\(getpid())"
        let file: FileDescriptor
        do {
            file = try .openForWriting(temporary)
        } catch {
            throw Failure(operation: "create", reason: "\(error)")
        }
        var failure: Failure?
        do {
            _ = try file.writeAll(bytes)
        } catch {
            failure = Failure(operation: "write", reason: "\(error)")
        }
        if failure == nil, fsync(file.rawValue) != 0 {
            failure = Failure(operation: "fsync", reason: "\(Errno(rawValue: errno))")
        }
        try? file.close()
        if let failure {
            unlink(temporary)
            throw failure
        }
        guard rename(temporary, path) == 0 else {
            let reason = "\(Errno(rawValue: errno))"
            unlink(temporary)
            throw Failure(operation: "rename", reason: reason)
        }
        // The rename itself is durable only once the folder is synced.
        let folder = (path as NSString).deletingLastPathComponent
        if let directory = try? FileDescriptor.open(
            FilePath(folder.isEmpty ? "." : folder), .readOnly, options: [.closeOnExec])
        {
            _ = fsync(directory.rawValue)
            try? directory.close()
        }
    }
}

import Checksums
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sidecar's outbox on disk (`--spool DIR`), so that records not yet acknowledged survive a
/// restart of the sidecar.
///
/// Layout: `DIR/link` holds the link id; records go into segment files `DIR/<first seq>.spool`
/// (20 decimal digits), each a run of entries `seq: u64 LE ‖ length: u32 LE ‖ crc32c: u32 LE ‖
/// record bytes`. A segment is deleted once every seq in it is acknowledged as durable. Entries
/// are written, not fsynced, one by one: the kernel keeps them through a crash of the process; the
/// open segment is fsynced when the spool closes. Reading stops at the first entry that is cut
/// short or whose checksum fails (the one being written when the process died).
///
/// One process per folder: `DIR/lock` is held with `flock` while the spool is open. Not
/// thread-safe; ``LinkOutboxQueue`` uses it under its lock.
final class LinkSpool {
    /// Where the spool lives.
    let directory: String
    /// A segment is closed and a new one started once it holds this many bytes.
    let segmentBytes: Int
    private let lock: FileDescriptor
    /// The segments, oldest first: their first seq and path.
    private var segments: [(first: UInt64, path: String)] = []
    private var current: FileDescriptor?
    private var currentSize = 0
    /// The seq of the last entry appended or loaded.
    private var lastSeq: UInt64?
    private var isClosed = false

    /// What an opened spool held.
    struct Contents {
        /// The link id saved with the records, or nil when no record was left (start a new link).
        var link: String?
        /// The records left, in seq order.
        var entries: [LinkOutbox.Entry]
        /// Entries dropped at a damaged or truncated end.
        var damaged: Int
    }

    /// Opens (creating it if needed) the spool in `directory` and reads what it holds.
    static func open(
        _ directory: String, segmentBytes: Int = 4 << 20
    ) throws(LinkSpoolError) -> (LinkSpool, Contents) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, operation: "create", reason: error.localizedDescription)
        }
        let lockPath = directory + "/lock"
        let lock: FileDescriptor
        do {
            lock = try .open(
                FilePath(lockPath), .readWrite, options: [.create, .closeOnExec],
                permissions: FilePermissions(rawValue: 0o644))
        } catch {
            throw .io(path: lockPath, operation: "open", reason: "\(error)")
        }
        if flock(lock.rawValue, LOCK_EX | LOCK_NB) != 0 {
            try? lock.close()
            throw .inUse(path: directory)
        }
        let spool = LinkSpool(directory: directory, segmentBytes: segmentBytes, lock: lock)
        do {
            return (spool, try spool.load())
        } catch {
            spool.close()
            throw error
        }
    }

    private init(directory: String, segmentBytes: Int, lock: FileDescriptor) {
        self.directory = directory
        self.segmentBytes = max(1, segmentBytes)
        self.lock = lock
    }

    deinit {
        close()
    }

    private var linkPath: String { directory + "/link" }

    private func load() throws(LinkSpoolError) -> Contents {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .io(path: directory, operation: "list", reason: error.localizedDescription)
        }
        let found = names.compactMap { name -> (UInt64, String)? in
            guard name.hasSuffix(".spool"), let first = UInt64(name.dropLast(6)) else { return nil }
            return (first, directory + "/" + name)
        }.sorted { $0.0 < $1.0 }
        var entries: [LinkOutbox.Entry] = []
        var damaged = 0
        for (first, path) in found {
            let bytes: [UInt8]
            do {
                bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            } catch {
                throw .io(path: path, operation: "read", reason: error.localizedDescription)
            }
            let (read, cut) = Self.entries(in: bytes)
            damaged += cut
            for entry in read where entries.last.map({ entry.seq > $0.seq }) ?? true {
                entries.append(entry)
            }
            segments.append((first, path))
        }
        lastSeq = entries.last?.seq
        let link = entries.isEmpty ? nil : (try? String(contentsOfFile: linkPath, encoding: .utf8))?.trimmingWhitespace
        if entries.isEmpty {
            // Nothing left to send: start over with a new link (and no old segment files).
            for segment in segments { try? FileManager.default.removeItem(atPath: segment.path) }
            segments = []
        }
        return Contents(
            link: link.flatMap { $0.isEmpty ? nil : $0 }, entries: link == nil ? [] : entries, damaged: damaged)
    }

    /// The whole entries at the start of `bytes`, and how many entries' worth of bytes follow
    /// them damaged (0 or 1: reading stops there).
    static func entries(in bytes: [UInt8]) -> ([LinkOutbox.Entry], Int) {
        var entries: [LinkOutbox.Entry] = []
        var offset = 0
        return bytes.withUnsafeBytes { buffer in
            while offset + 16 <= buffer.count {
                let seq = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let length = Int(
                    UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                guard offset + 16 + length <= buffer.count else { break }
                let record = UnsafeRawBufferPointer(rebasing: buffer[(offset + 16)..<(offset + 16 + length)])
                guard CRC32C.checksum(record) == crc else { break }
                entries.append(LinkOutbox.Entry(seq: seq, bytes: Array(record)))
                offset += 16 + length
            }
            return (entries, offset < buffer.count ? 1 : 0)
        }
    }

    /// The bytes of one entry.
    static func encode(_ entry: LinkOutbox.Entry) -> [UInt8] {
        var bytes = LinkMessageNumbers.encode(entry.seq)
        let length = UInt32(truncatingIfNeeded: entry.bytes.count).littleEndian
        let crc = entry.bytes.withUnsafeBytes { CRC32C.checksum($0) }.littleEndian
        withUnsafeBytes(of: length) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: crc) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: entry.bytes)
        return bytes
    }

    /// Saves the link id the spool's records belong to (atomically: a temporary file, renamed).
    func saveLink(_ link: String) throws(LinkSpoolError) {
        let temporary = linkPath + ".tmp"
        do {
            try Data((link + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, linkPath)
        } catch {
            throw .io(path: linkPath, operation: "write", reason: error.localizedDescription)
        }
    }

    /// Appends one record (written to the file before this returns).
    func append(_ entry: LinkOutbox.Entry) throws(LinkSpoolError) {
        if current == nil || currentSize >= segmentBytes {
            try startSegment(at: entry.seq)
        }
        guard let current else { return }
        let bytes = Self.encode(entry)
        do {
            _ = try current.writeAll(bytes)
        } catch {
            throw .io(path: segments.last?.path ?? directory, operation: "append to", reason: "\(error)")
        }
        currentSize += bytes.count
        lastSeq = entry.seq
    }

    private func startSegment(at seq: UInt64) throws(LinkSpoolError) {
        if let current {
            _ = fsync(current.rawValue)
            try? current.close()
        }
        current = nil
        let path = directory + "/" + String(repeating: "0", count: max(0, 20 - String(seq).count)) + "\(seq).spool"
        do {
            current = try .openForWriting(path)
        } catch {
            throw .io(path: path, operation: "create", reason: "\(error)")
        }
        currentSize = 0
        segments.append((seq, path))
    }

    /// Deletes the segments whose every seq is below `durable`.
    func acknowledge(below durable: UInt64) {
        while let head = segments.first {
            let nextFirst = segments.count > 1 ? segments[1].first : nil
            let fullyAcknowledged: Bool
            if let nextFirst {
                fullyAcknowledged = nextFirst <= durable
            } else {
                fullyAcknowledged = lastSeq.map { $0 < durable } ?? true
            }
            guard fullyAcknowledged else { return }
            if segments.count == 1, let current {
                try? current.close()
                self.current = nil
            }
            try? FileManager.default.removeItem(atPath: head.path)
            segments.removeFirst()
        }
    }

    /// Fsyncs the open segment and releases the folder.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        if let current {
            _ = fsync(current.rawValue)
            try? current.close()
            self.current = nil
        }
        // Closing the descriptor releases the flock.
        try? lock.close()
    }
}

/// Little-endian u64s for the spool's entries.
enum LinkMessageNumbers {
    static func encode(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// A spool folder that cannot be used.
public enum LinkSpoolError: Error, Sendable, CustomStringConvertible {
    /// Another process holds the folder.
    case inUse(path: String)
    /// A file operation failed.
    case io(path: String, operation: String, reason: String)

    /// A sentence saying what failed and what to do.
    public var description: String {
        switch self {
        case .inUse(let path):
            "the spool \(path) is in use by another lossd sidecar; give each sidecar a spool folder of its own "
                + "(--spool)"
        case .io(let path, let operation, let reason):
            "cannot \(operation) \(path): \(reason). Check that the spool folder (--spool) is writable and has room"
        }
    }
}

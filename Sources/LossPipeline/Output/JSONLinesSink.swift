import Foundation
public import LossWire
import SystemPackage

/// Writes records as JSON Lines to standard output or to a file, through a buffer (swift-system
/// file descriptors).
public final class JSONLinesSink: RecordSink {
    private let file: FileDescriptor
    private let ownsFile: Bool
    private let path: String
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    private let flushEveryLine: Bool

    /// A sink on standard output.
    ///
    /// - Parameter flushEveryLine: Write each line at once (a live stream, or a terminal) rather
    ///   than in blocks of 64 KiB (a batch job); by default, only when stdout is a terminal.
    public static func standardOutput(flushEveryLine: Bool? = nil) -> JSONLinesSink {
        JSONLinesSink(
            file: .standardOutput, owns: false, path: "-",
            flushEveryLine: flushEveryLine ?? (isatty(STDOUT_FILENO) != 0))
    }

    /// Creates (or truncates) the file at `path` and writes records to it.
    ///
    /// - Parameter flushEveryLine: Write each line at once rather than in blocks of 64 KiB.
    public convenience init(path: String, flushEveryLine: Bool = false) throws(OutputError) {
        do {
            self.init(file: try .openForWriting(path), owns: true, path: path, flushEveryLine: flushEveryLine)
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
    }

    private init(file: FileDescriptor, owns: Bool, path: String, flushEveryLine: Bool) {
        self.file = file
        self.ownsFile = owns
        self.path = path
        self.flushEveryLine = flushEveryLine
        self.flushThreshold = 64 * 1024
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    /// Writes one record and a newline.
    public func write(_ record: ResultRecord) throws {
        try writeLine(record.jsonLine())
    }

    /// Writes one already-encoded JSON object and a newline.
    public func writeLine(_ line: [UInt8]) throws(OutputError) {
        buffer.append(contentsOf: line)
        buffer.append(UInt8(ascii: "\n"))
        if flushEveryLine || buffer.count >= flushThreshold {
            try flush()
        }
    }

    /// Writes the buffered lines to the file; on failure they are dropped, not retried.
    public func flush() throws(OutputError) {
        defer { buffer.removeAll(keepingCapacity: true) }
        do {
            _ = try file.writeAll(buffer)
        } catch {
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// Flushes and, for a file, syncs and closes it.
    public func close() throws {
        try flush()
        guard ownsFile else { return }
        defer { try? file.close() }
        // fsync is not wrapped by swift-system; EINVAL means a file that cannot be synced (a pipe).
        if fsync(file.rawValue) != 0 && errno != EINVAL {
            throw OutputError.writeFailed(path: path, reason: "\(Errno(rawValue: errno))")
        }
    }
}

/// A failure to write results.
public enum OutputError: Error, CustomStringConvertible, Sendable {
    /// The output file could not be created.
    case cannotOpen(path: String, reason: String)
    /// Writing failed part way (disk full, closed pipe…).
    case writeFailed(path: String, reason: String)

    /// A sentence saying what failed and what to change.
    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot create \(path): \(reason). Check that the folder exists and is writable."
        case .writeFailed(let path, let reason):
            "writing records to \(path == "-" ? "standard output" : path) failed: \(reason)."
        }
    }
}

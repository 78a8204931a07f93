public import Foundation
public import LossWire

/// Writes records as JSON Lines to standard output or to a file, through a buffer.
public final class JSONLinesSink: RecordSink {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let path: String
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    private let flushEveryLine: Bool

    /// A sink on standard output.
    ///
    /// - Parameter flushEveryLine: Write each line at once (a live stream, or a terminal) rather
    ///   than in blocks of 64 KiB (a batch job); by default, only when stdout is a terminal.
    public static func standardOutput(flushEveryLine: Bool = isatty(STDOUT_FILENO) != 0) -> JSONLinesSink {
        JSONLinesSink(descriptor: STDOUT_FILENO, owns: false, path: "-", flushEveryLine: flushEveryLine)
    }

    /// Creates (or truncates) the file at `path` and writes records to it.
    ///
    /// - Parameter flushEveryLine: Write each line at once rather than in blocks of 64 KiB.
    public convenience init(path: String, flushEveryLine: Bool = false) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        self.init(descriptor: fd, owns: true, path: path, flushEveryLine: flushEveryLine)
    }

    private init(descriptor: Int32, owns: Bool, path: String, flushEveryLine: Bool) {
        self.descriptor = descriptor
        self.ownsDescriptor = owns
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

    /// Writes the buffered lines to the descriptor.
    public func flush() throws(OutputError) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { bytes in
                Foundation.write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                buffer.removeAll(keepingCapacity: true)
                throw .writeFailed(path: path, reason: reason)
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and, for a file, closes it.
    public func close() throws {
        try flush()
        if ownsDescriptor {
            if fsync(descriptor) != 0 && errno != EINVAL {
                throw OutputError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            Foundation.close(descriptor)
        }
    }
}

/// A failure to write results.
public enum OutputError: Error, CustomStringConvertible, Sendable {
    /// The output file could not be created.
    case cannotOpen(path: String, reason: String)
    /// Writing failed part way (disk full, closed pipe…).
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot create \(path): \(reason). Check that the folder exists and is writable."
        case .writeFailed(let path, let reason):
            "writing records to \(path == "-" ? "standard output" : path) failed: \(reason)."
        }
    }
}

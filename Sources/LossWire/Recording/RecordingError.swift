#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a recording could not be written or read.
///
/// Read errors name the file, the byte offset of the record that failed and how many good records
/// came before it; every record before that offset was returned intact.
public enum RecordingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file could not be opened or created (`errno` from `open`).
    case openFailed(path: String, errno: Int32)
    /// Reading failed at `offset` (`errno` from `read`).
    case readFailed(path: String, offset: UInt64, errno: Int32)
    /// Writing failed (`errno` from `write`); the recording ends with a partial record.
    case writeFailed(path: String, errno: Int32)
    /// The file does not start with `LOSSREC1` or `LOSSREC2`.
    case notARecording(path: String)
    /// The file is a recording of a format version this build cannot read (`version` is the
    /// magic's last character).
    case unsupportedVersion(path: String, version: String)
    /// The file ends inside the record at `offset`.
    case truncated(path: String, offset: UInt64, goodRecords: Int)
    /// The record at `offset` is damaged: a bad checksum, frame count or length (or, at offset 0,
    /// a bad version 2 file header).
    case damaged(path: String, offset: UInt64, goodRecords: Int, reason: String)
    /// A message cannot be recorded, e.g. it has no frames or more than 16.
    case invalidMessage(reason: String)
    /// The writer was already closed or failed earlier.
    case closed(path: String)

    /// A sentence saying what happened and what to do.
    public var description: String {
        switch self {
        case .openFailed(let path, let code):
            "cannot open recording \(path): \(Self.text(code))"
        case .readFailed(let path, let offset, let code):
            "cannot read recording \(path) at byte \(offset): \(Self.text(code))"
        case .writeFailed(let path, let code):
            "cannot write recording \(path): \(Self.text(code)); the file ends with a partial record, "
                + "which readers will report as truncated"
        case .notARecording(let path):
            "\(path) is not a lossd recording: it does not start with LOSSREC1 or LOSSREC2"
        case .unsupportedVersion(let path, let version):
            "\(path) is a lossd recording of format version \(version), which this lossd cannot read "
                + "(it reads versions 1 and 2); read it with the lossd that wrote it, or a newer one"
        case .truncated(let path, let offset, let good):
            "recording \(path) ends inside the record at byte \(offset), after \(good) good records; "
                + "the records before it are usable (the writer was probably stopped mid-record)"
        case .damaged(let path, let offset, let good, let reason):
            "recording \(path) is damaged at byte \(offset), after \(good) good records: \(reason); "
                + "the records before it are usable"
        case .invalidMessage(let reason):
            "cannot record the message: \(reason)"
        case .closed(let path):
            "recording \(path) is closed or failed earlier; open a new writer"
        }
    }

    private static func text(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: message)) (errno \(code))"
    }
}

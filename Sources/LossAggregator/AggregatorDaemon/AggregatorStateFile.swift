import Foundation
public import Logging

/// The daemon's state file: loaded at start, replaced atomically (temporary file, fsync, rename)
/// every `state_interval` and at shutdown.
///
/// A file that exists but cannot be decoded (truncated, edited, another program's) is moved aside
/// to `FILE.damaged-<unix time>` with a warning, and the daemon starts fresh; it is never deleted.
public struct AggregatorStateFile: Sendable {
    /// Where the state lives.
    public let path: String

    /// A state file at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The saved aggregation continued with `parameters`, or a fresh one when there is no file or
    /// it is damaged (then moved aside, with a warning on `logger`).
    ///
    /// - Throws: ``AggregatorStateError/io(path:operation:reason:)`` when the file exists but
    ///   cannot be read (permissions): starting fresh would overwrite it at the next save.
    public func load(
        parameters: AggregationParameters, now: Double, logger: Logger
    ) throws(AggregatorStateError) -> Aggregation {
        guard FileManager.default.fileExists(atPath: path) else {
            logger.info("no state file yet; starting fresh", metadata: ["state": "\(path)"])
            return Aggregation(parameters: parameters, startTime: now)
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .io(path: path, operation: "read", reason: "\(error.localizedDescription)")
        }
        do {
            let aggregation = try Aggregation(stateJSON: bytes, parameters: parameters)
            let splits = aggregation.splits.count
            logger.info(
                "state loaded",
                metadata: ["state": "\(path)", "records": "\(aggregation.records)", "splits": "\(splits)"])
            return aggregation
        } catch {
            let aside = "\(path).damaged-\(Int(now))"
            do {
                try FileManager.default.moveItem(atPath: path, toPath: aside)
            } catch let moveError {
                throw .io(
                    path: path, operation: "move aside",
                    reason: "\(error); moving it to \(aside) failed: \(moveError.localizedDescription)")
            }
            logger.warning(
                "\(error); moved it aside and starting fresh",
                metadata: ["state": "\(path)", "moved_to": "\(aside)"])
            return Aggregation(parameters: parameters, startTime: now)
        }
    }

    /// Replaces the file with `aggregation`, atomically.
    public func save(_ aggregation: Aggregation, now: Double) throws(AggregatorStateError) {
        do {
            try AtomicFile.replace(path, with: aggregation.stateJSON(savedAt: now))
        } catch {
            throw .io(
                path: path, operation: error.operation == "rename" ? "replace" : "\(error.operation) a new copy of",
                reason: error.reason)
        }
    }
}

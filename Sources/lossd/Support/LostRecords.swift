import ArgumentParser
import Logging
import LossAggregator
import LossPipeline

/// The exit status of a long-running command after it drained: 0 when every record it took
/// reached its outputs, 2 when some did not (the same status `lossd replay` gives an incomplete
/// replay), so that a supervisor or a CI job sees the loss without reading the log.
enum LostRecords {
    /// The status of a run that lost records it had taken.
    static let exitStatus: Int32 = 2

    /// Logs the counts as the last line and exits with status 2 when the sidecar lost records
    /// (output or recording failures) or the aggregator did (a failed final save of the state
    /// file, snapshots that could not be written); returns otherwise.
    static func check(sidecar: SidecarReport? = nil, aggregator: AggregatorReport? = nil, logger: Logger) throws {
        var parts: [String] = []
        if let sidecar, sidecar.lostRecords { parts.append("sidecar \(sidecar.counts)") }
        if let aggregator, aggregator.lostOwnRecords { parts.append("aggregator \(aggregator.counts)") }
        guard !parts.isEmpty else { return }
        logger.error(
            "exiting with status \(exitStatus): records taken were lost: \(parts.joined(separator: "; "))")
        throw ExitCode(exitStatus)
    }
}

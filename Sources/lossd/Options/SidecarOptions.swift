import ArgumentParser
import Configuration

/// The flags of the sidecar's receiving and computing side (`sidecar.*`), shared by
/// `lossd sidecar` and `lossd serve`.
struct SidecarOptions: ParsableArguments {
    @Option(help: "Where batches arrive: an endpoint list (bare endpoints bind). Default @tcp://127.0.0.1:5555.")
    var input: String?

    @Option(help: "Worker threads computing losses (default: the number of cores).")
    var workers: Int?

    @Option(
        help: """
            Batches waiting for a worker (default 2); memory stays within (queue + workers + 1) batches, \
            one more with --record.
            """
    )
    var queue: Int?

    @Option(help: "Tee every received message, valid or not, into this .lossrec recording.")
    var record: String?

    @Option(help: "The recording's format version: 2 (default), or 1 for readers that know only version 1.")
    var recordVersion: Int?

    @Option(help: "The identifier in each loss record's sidecar field (default host:pid).")
    var sidecarId: String?

    @Option(help: "Seconds between status log lines; 0 turns them off (default 10).")
    var statusIntervalSeconds: Double?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let input { values["sidecar.input"] = .string(input) }
        if let workers { values["sidecar.workers"] = .int(workers) }
        if let queue { values["sidecar.queue"] = .int(queue) }
        if let record { values["sidecar.record"] = .string(record) }
        if let recordVersion { values["sidecar.record_version"] = .int(recordVersion) }
        if let sidecarId { values["sidecar.sidecar_id"] = .string(sidecarId) }
        if let statusIntervalSeconds { values["sidecar.status_interval_seconds"] = .double(statusIntervalSeconds) }
        return values
    }
}

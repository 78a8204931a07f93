import ArgumentParser
import Configuration

/// The flags of `lossd aggregate` and `lossd serve`, one per `aggregate.*` setting
/// (Config/lossd.yaml), except the input, whose flag differs between the two commands.
struct AggregateOptions: ParsableArguments {
    @Option(help: "Where the HTTP server listens, host:port (port 0: any free port). Default 127.0.0.1:9180.")
    var http: String?

    @Option(help: "A state file that keeps the statistics across restarts (default: none).", completion: .file())
    var state: String?

    @Option(
        help: "A JSON Lines file that receives one snapshot per --snapshot-interval (default: none).",
        completion: .file(extensions: ["jsonl"]))
    var snapshots: String?

    @Option(help: "Publish each snapshot on a PUB socket, topic \"stats\" (bare endpoints bind; default: none).")
    var publish: String?

    @Option(help: "Seconds between snapshots (default 10).")
    var snapshotInterval: Double?

    @Option(help: "Seconds between saves of the state file; a restart loses at most this much (default 10).")
    var stateInterval: Double?

    @Option(help: "EMA decay d in 0..<1: ema = d*ema + (1-d)*x, one step per batch (default 0.98).")
    var emaDecay: Double?

    @Option(help: "Batches the window statistic averages over (default 100).")
    var window: Int?

    @Option(help: "How far below the highest seq a batch may arrive before it counts as lost (default 1024).")
    var reorderWindow: Int?

    @Option(
        help:
            """
            The most (run, split) and (run, source) pairs kept; records of further pairs count as overflow (default \
            1000).
            """
    )
    var maxKeys: Int?

    @Option(
        help: "The most points of each (run, split)'s chart history; longer runs are downsampled to fit (default 2000)."
    )
    var historyPoints: Int?

    /// Flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let http { values["aggregate.http"] = .string(http) }
        if let state { values["aggregate.state"] = .string(state) }
        if let snapshots { values["aggregate.snapshots"] = .string(snapshots) }
        if let publish { values["aggregate.publish"] = .string(publish) }
        if let snapshotInterval { values["aggregate.snapshot_interval"] = .double(snapshotInterval) }
        if let stateInterval { values["aggregate.state_interval"] = .double(stateInterval) }
        if let emaDecay { values["aggregate.ema_decay"] = .double(emaDecay) }
        if let window { values["aggregate.window"] = .int(window) }
        if let reorderWindow { values["aggregate.reorder_window"] = .int(reorderWindow) }
        if let maxKeys { values["aggregate.max_keys"] = .int(maxKeys) }
        if let historyPoints { values["aggregate.history_points"] = .int(historyPoints) }
        return values
    }
}

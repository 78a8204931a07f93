import ArgumentParser
import Configuration

/// The flags of `lossd aggregate` and `lossd serve`, one per `aggregate.*` setting
/// (Config/lossd.yaml), except the input, whose flag differs between the two commands.
struct AggregateOptions: ParsableArguments {
    @Option(help: "Where the HTTP server listens, host:port (port 0: any free port). Default 127.0.0.1:9180.")
    var http: String?

    @Option(
        help: """
            A state file that keeps the statistics across restarts (default: none). With it, sidecars' records are \
            acknowledged once saved in it, and survive any crash of the aggregator.
            """,
        completion: .file())
    var state: String?

    @Option(
        help: """
            Where plain PUSH producers (not lossd sidecars) send records: a PULL socket, at-most-once, with the \
            input's CURVE settings (bare endpoints bind; default: none).
            """)
    var pullInput: String?

    @Option(
        help: """
            Seconds after records arrive over a sidecar's link before the state is saved so that they can be \
            acknowledged (with --state; default 0.2).
            """)
    var ackInterval: Double?

    @Option(help: "Records a sidecar may send past what was ingested before it waits for an ack (default 1000).")
    var linkCredit: Int?

    @Option(
        help: "A JSON Lines file that receives one snapshot per --snapshot-interval (default: none).",
        completion: .file(extensions: ["jsonl"]))
    var snapshots: String?

    @Option(
        help: """
            Publish each snapshot on a PUB socket, topic "stats", and each divergence event, topic "event" (bare \
            endpoints bind; default: none).
            """)
    var publish: String?

    @Option(
        help: """
            Write TensorBoard event files of the per-step figures under this folder, one per run/split (default: \
            none).
            """,
        completion: .directory)
    var tensorboard: String?

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

    @Option(help: "Seconds a step waits for all its ranks before it closes as partial (default 60).")
    var stepTimeout: Double?

    @Option(help: "The most steps waiting for ranks per (run, split); the oldest closes as partial (default 64).")
    var openSteps: Int?

    @Option(help: "Steps kept per (run, split) with their ranks' records, for /stats and the charts (default 1000).")
    var stepHistory: Int?

    @Option(
        help: """
            What a resume from a checkpoint does to the steps already recorded: replace (the new records replace \
            the old from that step on) or keep (default replace).
            """)
    var resume: String?

    @Option(help: "Seconds after which a stream (a sending process) that sent nothing is retired (default 3600).")
    var streamIdle: Double?

    @Option(help: "The most streams tracked at once; the one idle longest is retired for a new one (default 4096).")
    var maxStreams: Int?

    @Option(
        help: """
            A (run, split) diverges when its loss stays above this multiple of its running minimum for \
            --divergence-steps figures in a row (default 10).
            """)
    var divergenceFactor: Double?

    @Option(
        help: """
            Figures in a row (step means, or batches without ranks) above the threshold that mark a run diverging, \
            and within it that end the mark (default 3).
            """)
    var divergenceSteps: Int?

    @Option(
        help: ArgumentHelp(
            "A web configuration file (Prometheus exporters' format): TLS and basic authentication for HTTP.",
            discussion: """
                tls_server_config (cert_file, key_file) serves HTTPS; basic_auth_users (user: bcrypt hash, from \
                htpasswd -nbBC 10 USER PASSWORD) asks for a password on every path. docs/SECURITY.md shows a complete \
                file and the Prometheus scrape job that reads through it. Default: none (plain HTTP, no password).
                """),
        completion: .file(extensions: ["yml", "yaml"]))
    var webConfig: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Serve /healthz without credentials when --web-config asks for a password (default: no).")
    var openHealthz: Bool?

    /// Flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let http { values["aggregate.http"] = .string(http) }
        if let state { values["aggregate.state"] = .string(state) }
        if let pullInput { values["aggregate.pull_input"] = .string(pullInput) }
        if let ackInterval { values["aggregate.ack_interval"] = .double(ackInterval) }
        if let linkCredit { values["aggregate.link_credit"] = .int(linkCredit) }
        if let snapshots { values["aggregate.snapshots"] = .string(snapshots) }
        if let publish { values["aggregate.publish"] = .string(publish) }
        if let tensorboard { values["aggregate.tensorboard"] = .string(tensorboard) }
        if let snapshotInterval { values["aggregate.snapshot_interval"] = .double(snapshotInterval) }
        if let stateInterval { values["aggregate.state_interval"] = .double(stateInterval) }
        if let emaDecay { values["aggregate.ema_decay"] = .double(emaDecay) }
        if let window { values["aggregate.window"] = .int(window) }
        if let reorderWindow { values["aggregate.reorder_window"] = .int(reorderWindow) }
        if let maxKeys { values["aggregate.max_keys"] = .int(maxKeys) }
        if let historyPoints { values["aggregate.history_points"] = .int(historyPoints) }
        if let stepTimeout { values["aggregate.step_timeout"] = .double(stepTimeout) }
        if let openSteps { values["aggregate.open_steps"] = .int(openSteps) }
        if let stepHistory { values["aggregate.step_history"] = .int(stepHistory) }
        if let resume { values["aggregate.resume"] = .string(resume) }
        if let streamIdle { values["aggregate.stream_idle"] = .double(streamIdle) }
        if let maxStreams { values["aggregate.max_streams"] = .int(maxStreams) }
        if let divergenceFactor { values["aggregate.divergence_factor"] = .double(divergenceFactor) }
        if let divergenceSteps { values["aggregate.divergence_steps"] = .int(divergenceSteps) }

        if let webConfig { values["aggregate.web_config"] = .string(webConfig) }
        if let openHealthz { values["aggregate.open_healthz"] = .bool(openHealthz) }
        return values
    }
}

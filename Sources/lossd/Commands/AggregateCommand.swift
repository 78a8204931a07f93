import ArgumentParser
import Configuration
import Logging
import LossAggregator
import LossPipeline
import ServiceLifecycle

/// `lossd aggregate`: take records over sidecars' links (and plain PUSH), keep running statistics,
/// serve them over HTTP.
struct AggregateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Receive loss records, keep running statistics, and serve them to people and Prometheus.",
        discussion: """
            The central daemon. Sidecars send one JSON record per batch over the acknowledged \
            link to its ROUTER socket (--input, default @tcp://127.0.0.1:5556: @ binds, > \
            connects); with --state, a record is acknowledged once saved there, so it is counted \
            exactly once across crashes of either side. Plain PUSH producers send to --pull-input \
            instead (at-most-once). For every (run, split) \
            it keeps, for loss, classification and localization: the batch-size-weighted mean \
            since start, a debiased EMA (--ema-decay), the mean of the last --window batches, the \
            last, min and max values, and the current and previous epoch's means; also batches, \
            samples, positives and mined negatives per batch, errors by code and batches/s. For \
            every (run, source) it counts lost and duplicated batches from the records' seq, one \
            count per stream (a sending process: a restart is a new stream, never a duplicate; \
            --reorder-window, --stream-idle, --max-streams).

            Records that carry step, rank and world_size (LossClient fills them under torchrun, \
            Horovod, mpirun or TF_CONFIG) are put together by step: a step is complete when every \
            rank has a record, partial after --step-timeout seconds. For each step: pooled (the \
            loss of all its ranks' batches together, as the framework would compute it on one \
            device) and mean (the batch-size-weighted mean of the ranks' losses). A job resumed \
            from a checkpoint replaces the steps it repeats (--resume). --tensorboard DIR writes \
            them as TensorBoard event files. docs/DISTRIBUTED.md explains it all.

            Divergence: a (run, split) is marked diverging when its loss (each step's mean across \
            ranks, or each batch's loss for records without ranks) stays above --divergence-factor \
            times its running minimum for --divergence-steps figures in a row, or at once when a \
            batch holds NaN or infinite values; it recovers after as many figures in a row within \
            the threshold. /stats shows it (divergence), /metrics too (lossd_diverging), and \
            --publish sends an event (topic "event") when it starts and ends. docs/DIAGNOSTICS.md \
            explains it, and how a trainer stops on it (lossd_client's DivergenceWatcher).

            HTTP on --http (default 127.0.0.1:9180): GET / (the dashboard: loss curves per \
            (run, split), drawn on the server, no script), GET /metrics (Prometheus), GET /stats \
            (the same as JSON; ?steps=N for the last N steps), GET /healthz. Each (run, split) \
            keeps at most --history-points points of history for the charts, saved with the state; \
            lossd report draws them into a file. docs/OPERATIONS.md describes every figure, chart and metric.

            --state FILE keeps the statistics across restarts: saved atomically every \
            --state-interval seconds and at shutdown, loaded at start (a damaged file is moved \
            aside and the daemon starts fresh). --snapshots FILE appends one JSON line per \
            --snapshot-interval; --publish EP sends the same JSON on a PUB socket, topic "stats" \
            (and the divergence events, topic "event").

            SIGINT or SIGTERM: ingest the records already received, count every seq gap as lost, \
            save the state and exit 0; a second signal exits at once. Exit 2 when records it took \
            did not reach its files (the final save of --state failed, or snapshots could not be \
            appended), the last line giving the counts; 1 when it cannot start, 64 for a bad setting.

            HTTPS and passwords: --web-config FILE reads a web configuration file in the format \
            Prometheus exporters use: tls_server_config (cert_file, key_file) serves TLS, \
            basic_auth_users (user: bcrypt hash) asks for a password on every path, /healthz too \
            unless --open-healthz. docs/SECURITY.md gives the files, the commands that make them \
            and the Prometheus scrape job (scheme: https, tls_config, basic_auth).

            Examples:
              lossd aggregate
              lossd aggregate --state /var/lib/lossd/state.json --snapshots /var/log/lossd/stats.jsonl
              lossd aggregate --input @tcp://0.0.0.0:5556 --http 0.0.0.0:9180 --publish @tcp://0.0.0.0:5557
              lossd aggregate --window 500 --ema-decay 0.99 --reorder-window 4096
              lossd aggregate --tensorboard runs/ --step-timeout 120 --state state.json
              tensorboard --logdir runs/
              curl -s 127.0.0.1:9180/stats | python3 -m json.tool
              lossd aggregate --http 0.0.0.0:9180 --web-config /etc/lossd/web.yml
              curl --cacert lossd.crt -u prometheus https://lossd.example:9180/stats
              LOSSD_AGGREGATE_STATE=state.json lossd aggregate --config Config/lossd.yaml
              lossd aggregate --input @tcp://10.0.0.10:5556 \\
                --input-key-file aggregator.key --input-allowed-clients a.pub,b.pub
              lossd aggregate --publish @tcp://0.0.0.0:5557 --publish-key-file aggregator.key

            CURVE (docs/SECURITY.md): a sidecar that fails the input's handshake is logged \
            (warning) with its address and the likely cause, and counted in \
            lossd_handshake_failures_total{socket="aggregate.input",reason=...}. --publish is \
            plain unless --publish-key-file (or --key-file) gives it a key pair; subscribers \
            (lossd_client's DivergenceWatcher(curve_server_key=...)) then need its public key, and \
            --publish-allowed-clients lists the ones it lets in (socket="aggregate.publish").
            """
    )

    @Option(
        help: "Where sidecars' record links arrive: endpoints (bare ones bind). Default @tcp://127.0.0.1:5556.")
    var input: String?

    @OptionGroup(title: "Aggregator")
    var options: AggregateOptions

    @OptionGroup(title: "CURVE security, per socket")
    var inputCurve: InputCurveOptions

    @OptionGroup(title: "CURVE security, per socket")
    var publishCurve: PublishCurveOptions

    @OptionGroup(title: "CURVE security, every socket")
    var curve: CurveOptions

    @OptionGroup(title: "Settings and logging")
    var common: CommonOptions

    func run() async throws {
        var flags = options.flagValues.merging(curve.flagValues) { first, _ in first }
            .merging(inputCurve.flagValues(socket: "aggregate.input")) { first, _ in first }
            .merging(publishCurve.flagValues) { first, _ in first }
        if let input { flags["aggregate.input"] = .string(input) }
        let settings = try await common.loadSettings(flags: flags)
        let aggregateSettings: AggregatorSettings
        do {
            aggregateSettings = try AggregatorSettings(reading: settings)
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = try LogSetup.logger(label: "lossd.aggregate", settings: settings)
        let daemon: AggregatorDaemon
        do {
            daemon = try AggregatorDaemon(settings: aggregateSettings, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        let http = AggregatorHTTPServer.service(
            aggregator: daemon.aggregator, address: aggregateSettings.http, logger: logger,
            handshakes: daemon.handshakes,
            webConfig: aggregateSettings.webConfig, openHealthz: aggregateSettings.openHealthz)
        // Services stop in reverse order: the daemon drains and saves first, while HTTP still answers.
        try await ServiceRunner.run(
            [.init(service: http), .init(service: AggregatorService(daemon: daemon, logger: logger))], logger: logger)
        try LostRecords.check(aggregator: daemon.report, logger: logger)
    }
}

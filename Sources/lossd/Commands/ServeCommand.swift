import ArgumentParser
import Configuration
import Logging
import LossAggregator
import LossPipeline
import ServiceLifecycle

/// `lossd serve`: a sidecar and an aggregator in one process, for one machine.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a sidecar and an aggregator in one process: batches in, running averages out.",
        discussion: """
            The embedded default for one machine: trainers push batches to --input (default \
            @tcp://127.0.0.1:5555); the sidecar computes them and hands the records to the \
            aggregator over the record link on an in-process socket; the aggregator serves the \
            running averages on --http (default 127.0.0.1:9180): /metrics, /stats, /healthz. \
            Every flag of lossd sidecar (but its output) and of lossd aggregate (but its input) \
            works here; --records-input lets sidecars on other hosts send their records to this \
            aggregator as well, over their acknowledged links (--pull-input for plain PUSH \
            producers).

            SIGINT or SIGTERM: the sidecar finishes the batches it received, the aggregator \
            ingests their records and saves its state, then the process exits 0, or 2 when either \
            lost records it had taken (the last line gives the counts). --web-config guards the \
            HTTP port with TLS and a password, as for lossd aggregate.

            Examples:
              lossd serve
              lossd serve --workers 2 --state state.json --snapshots stats.jsonl
              lossd serve --tensorboard runs/          # then: tensorboard --logdir runs/
              lossd serve --input @tcp://0.0.0.0:5555 --records-input @tcp://0.0.0.0:5556

            CURVE (docs/SECURITY.md), per socket: --input-key-file for the trainers' \
            connections, --records-input-key-file for other sidecars'; --key-file for both:
              lossd serve --input @tcp://10.0.0.21:5555 \\
                --input-key-file serve.key --input-allowed-clients trainer.pub
            A peer that fails a handshake is logged (warning) with its address and the likely \
            cause, and counted in the last line and in /metrics as \
            lossd_handshake_failures_total{socket="sidecar.input" or "serve.records_input",reason=...}.
            """
    )

    @Option(
        help:
            """
            Extra endpoints where the aggregator takes records from other sidecars (bare endpoints bind). Default: \
            none.
            """
    )
    var recordsInput: String?

    @OptionGroup(title: "Sidecar")
    var sidecar: SidecarOptions

    @OptionGroup(title: "Aggregator")
    var aggregate: AggregateOptions

    @OptionGroup(title: "CURVE security, per socket")
    var inputCurve: InputCurveOptions

    @OptionGroup(title: "CURVE security, per socket")
    var recordsCurve: RecordsInputCurveOptions

    @OptionGroup(title: "CURVE security, every socket")
    var curve: CurveOptions

    @OptionGroup(title: "Loss defaults (a batch header's own settings win)")
    var loss: LossOptions

    @OptionGroup(title: "Settings and logging")
    var common: CommonOptions

    func run() async throws {
        var flags = sidecar.flagValues
            .merging(aggregate.flagValues) { first, _ in first }
            .merging(curve.flagValues) { first, _ in first }
            .merging(inputCurve.flagValues(socket: "sidecar.input")) { first, _ in first }
            .merging(recordsCurve.flagValues) { first, _ in first }
            .merging(loss.flagValues) { first, _ in first }
        if let recordsInput { flags["serve.records_input"] = .string(recordsInput) }
        let settings = try await common.loadSettings(flags: flags)
        let logger = try LogSetup.logger(label: "lossd.serve", settings: settings)
        let server: LossServer
        do {
            let (sidecarSettings, aggregatorSettings) = try ServeSettings.read(settings)
            server = try LossServer(sidecar: sidecarSettings, aggregator: aggregatorSettings, logger: logger)
        } catch let error as SettingsError {
            throw ValidationError("\(error)")
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        try await ServiceRunner.run(server.services, logger: logger)
        try LostRecords.check(sidecar: server.sidecar.report, aggregator: server.daemon.report, logger: logger)
    }
}

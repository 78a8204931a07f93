import ArgumentParser
import Configuration
import Logging
import LossPipeline
import ServiceLifecycle

/// `lossd sidecar`: PULL batches, compute them on N workers, send one record per batch (over the
/// acknowledged link by default).
struct SidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "Receive batches over ZeroMQ, compute their loss, and send one record per batch.",
        discussion: """
            Runs beside a trainer. Batches arrive on a PULL socket (--input, default \
            @tcp://127.0.0.1:5555: @ binds, > connects), are computed on --workers threads and \
            leave as JSON records, in arrival order, to a ZeroMQ endpoint (--output, default \
            >tcp://127.0.0.1:5556), on standard output (-), or in a .jsonl file. Every message \
            gets exactly one record: a loss record, or an error record naming what to fix.

            To a ZeroMQ endpoint records go, by default, over the acknowledged link to a lossd \
            aggregator (--output-mode link, a DEALER socket): each record stays in an outbox \
            (--outbox-records, --outbox-bytes) until the aggregator has saved it, is sent again \
            after a reconnect or an aggregator restart, and is counted once. --spool DIR keeps \
            the outbox on disk too, so a restarted sidecar sends what its predecessor held. For \
            any other PULL sink (pyzmq, lossd_client's sink) use --output-mode push: a plain \
            PUSH socket (--send-hwm, --linger-seconds); records in flight to a sink that goes \
            away are lost.

            When the workers fall behind, or the outbox is full, the sidecar stops receiving and \
            ZeroMQ's high-water marks make the trainer's sends wait: memory stays bounded and \
            nothing is dropped.

            SIGINT or SIGTERM: stop receiving, finish every batch already received, wait up to \
            --ack-timeout-seconds for the aggregator to acknowledge every record (push: flush \
            the output) and exit 0; a second signal exits at once. The last log line gives \
            received=N computed=M rejected=K. When records were lost (the output or the \
            --record file failed, or records were still unacknowledged with no --spool to keep \
            them), it exits 2 instead, its last line naming output_failures, recording_failures \
            and unacknowledged (spooled counts those kept for the next start); 1 when it cannot \
            start, 64 for a bad setting.

            Examples:
              lossd sidecar
              lossd sidecar --input @tcp://0.0.0.0:5555 --output '>tcp://aggregator:5556' --workers 4
              lossd sidecar --output - --record batches.lossrec
              lossd sidecar --spool /var/lib/lossd/spool
              lossd sidecar --output-mode push --output '>tcp://127.0.0.1:6000'
              LOSSD_SIDECAR_WORKERS=2 lossd sidecar --config Config/lossd.yaml

            CURVE (docs/SECURITY.md), per socket: trainers on this host stay plain, the \
            output is encrypted:
              lossd sidecar --output '>tcp://10.0.0.10:5556' \\
                --output-key-file sidecar.key --output-server-key aggregator.pub
            Every socket (--key-file is the short way; trainers then need CURVE too):
              lossd sidecar --input @tcp://10.0.0.21:5555 --key-file sidecar.key \\
                --allowed-clients trainer.pub \\
                --output '>tcp://10.0.0.10:5556' --output-server-key aggregator.pub
            A peer that fails the handshake is logged (warning) with its address and the likely \
            cause, and counted: handshake_failures and output_handshake_failures in the status \
            lines and the last line.
            """
    )

    @Option(
        help: "Where records go: an endpoint list (bare endpoints connect), - for standard output, or a .jsonl path.")
    var output: String?

    @Option(
        help: """
            How records leave for a ZeroMQ output: link (the acknowledged link to lossd aggregate, the default) or \
            push (a plain PUSH socket for any PULL sink).
            """)
    var outputMode: String?

    @Option(
        help: """
            link: the most records waiting for the aggregator's acknowledgement; when full, the sidecar stops taking \
            batches (default 10000).
            """)
    var outboxRecords: Int?

    @Option(help: "link: the most bytes of records waiting for acknowledgement (default 67108864, 64 MiB).")
    var outboxBytes: Int?

    @Option(
        help: """
            link: a folder that keeps the records waiting for acknowledgement on disk, so that a restarted sidecar \
            sends them (one sidecar per folder; default: memory only).
            """,
        completion: .directory)
    var spool: String?

    @Option(
        help: """
            link: seconds a stopping sidecar waits for the aggregator to acknowledge every record; what is left is \
            kept in --spool, or counted unacknowledged and lost (default 30).
            """)
    var ackTimeoutSeconds: Double?

    @Option(help: "push: records queued for a slow or absent sink before sending waits (default 10000).")
    var sendHwm: Int?

    @Option(help: "push: seconds queued records may take to reach the sink at shutdown (default 30).")
    var lingerSeconds: Double?

    @OptionGroup(title: "Sidecar")
    var sidecar: SidecarOptions

    @OptionGroup(title: "CURVE security, per socket")
    var inputCurve: InputCurveOptions

    @OptionGroup(title: "CURVE security, per socket")
    var outputCurve: OutputCurveOptions

    @OptionGroup(title: "CURVE security, every socket")
    var curve: CurveOptions

    @OptionGroup(title: "Loss defaults (a batch header's own settings win)")
    var loss: LossOptions

    @OptionGroup(title: "Settings and logging")
    var common: CommonOptions

    var flagValues: [String: ConfigContent] {
        var values = sidecar.flagValues.merging(loss.flagValues) { first, _ in first }
            .merging(curve.flagValues) { first, _ in first }
            .merging(inputCurve.flagValues(socket: "sidecar.input")) { first, _ in first }
            .merging(outputCurve.flagValues) { first, _ in first }
        if let output { values["sidecar.output"] = .string(output) }
        if let outputMode { values["sidecar.output_mode"] = .string(outputMode) }
        if let outboxRecords { values["sidecar.outbox_records"] = .int(outboxRecords) }
        if let outboxBytes { values["sidecar.outbox_bytes"] = .int(outboxBytes) }
        if let spool { values["sidecar.spool"] = .string(spool) }
        if let ackTimeoutSeconds { values["sidecar.ack_timeout_seconds"] = .double(ackTimeoutSeconds) }
        if let sendHwm { values["sidecar.send_hwm"] = .int(sendHwm) }
        if let lingerSeconds { values["sidecar.linger_seconds"] = .double(lingerSeconds) }
        return values
    }

    func run() async throws {
        let settings = try await common.loadSettings(flags: flagValues)
        let sidecarSettings: SidecarSettings
        do {
            sidecarSettings = try SidecarSettings(reading: settings)
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = try LogSetup.logger(label: "lossd.sidecar", settings: settings)
        let sidecar = Sidecar(settings: sidecarSettings, logger: logger)
        try await ServiceRunner.run([.init(service: SidecarService(sidecar: sidecar, logger: logger))], logger: logger)
        try LostRecords.check(sidecar: sidecar.report, logger: logger)
    }
}

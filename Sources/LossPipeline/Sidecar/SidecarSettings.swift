public import Foundation
public import LossWire
import SSDLoss
public import ZeroMQ

/// Everything a sidecar runs with, resolved and checked.
public struct SidecarSettings: Sendable {
    /// Where batches arrive (a bare endpoint binds). Default `@tcp://127.0.0.1:5555`.
    public var input: [Endpoint]
    /// Where records go. Default `>tcp://127.0.0.1:5556`.
    public var output: OutputTarget
    /// Worker threads computing losses. Default: the number of cores.
    public var workers: Int
    /// Batches received and waiting for a worker, counting the one in libzmq's receive pipe.
    /// With `workers`, it bounds memory: at most `queue + workers + 1` batches are held at once.
    public var queue: Int
    /// How records leave for a ZeroMQ output: the acknowledged link to a lossd aggregator (the
    /// default), or a plain PUSH socket for any PULL sink.
    public var outputMode: OutputMode
    /// The acknowledged link's outbox, spool and ack timeout (``OutputMode/link``).
    public var link: LinkSettings
    /// Records queued for a slow or absent sink before sending blocks (and backpressure starts);
    /// ``OutputMode/push`` only.
    public var sendHighWaterMark: Int
    /// How long, at shutdown, queued records may take to reach the sink; ``OutputMode/push`` only.
    public var outputLinger: Duration
    /// A `.lossrec` file that receives every message as it arrives, or nil.
    public var recordPath: String?
    /// The format version of the recording: 2 (the default), or 1 for readers that know only it.
    public var recordVersion: RecordingFormat.Version
    /// How often a status line is logged; zero turns it off.
    public var statusInterval: Duration
    /// Decoding limits, loss defaults and the sidecar id.
    public var processor: BatchProcessor
    /// The input's security (`sidecar.input_key_file`, `sidecar.input_allowed_clients`, or the
    /// process-wide `curve.*`): plain, or a CURVE server.
    public var inputSecurity: SocketSecurity
    /// The ZeroMQ output's security (`sidecar.output_server_key`, `sidecar.output_key_file` or
    /// `curve.key_file`): plain, or a CURVE client of the sink.
    public var outputSecurity: SocketSecurity

    /// `@tcp://127.0.0.1:5555`: batches arrive on loopback only unless told otherwise.
    public static let defaultInput: [Endpoint] =
        (try? Endpoint.parseList("@tcp://127.0.0.1:5555", defaultRole: .bind)) ?? []

    /// `>tcp://127.0.0.1:5556`: the aggregator's default input on the same machine.
    public static let defaultOutput: [Endpoint] =
        (try? Endpoint.parseList(">tcp://127.0.0.1:5556", defaultRole: .connect)) ?? []

    /// The defaults of SPEC §5.
    public init(
        input: [Endpoint] = SidecarSettings.defaultInput,
        output: OutputTarget = .zeromq(SidecarSettings.defaultOutput),
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        queue: Int = 2,
        outputMode: OutputMode = .link,
        link: LinkSettings = LinkSettings(),
        sendHighWaterMark: Int = 10_000,
        outputLinger: Duration = .seconds(30),
        recordPath: String? = nil,
        recordVersion: RecordingFormat.Version = RecordingFormat.currentVersion,
        statusInterval: Duration = .seconds(10),
        processor: BatchProcessor = BatchProcessor(),
        inputSecurity: SocketSecurity = .plain,
        outputSecurity: SocketSecurity = .plain
    ) {
        self.input = input
        self.output = output
        self.workers = workers
        self.queue = queue
        self.outputMode = outputMode
        self.link = link
        self.sendHighWaterMark = sendHighWaterMark
        self.outputLinger = outputLinger
        self.recordPath = recordPath
        self.recordVersion = recordVersion
        self.statusInterval = statusInterval
        self.processor = processor
        self.inputSecurity = inputSecurity
        self.outputSecurity = outputSecurity
    }

    /// Reads every `sidecar.*`, `loss.*` and `limits.*` key, checking each.
    public init(reading settings: SettingsReader) throws(SettingsError) {
        let defaults = SidecarSettings()
        let inputText = try settings.string("sidecar.input", default: nil)
        if let inputText {
            do {
                input = try Endpoint.parseList(inputText, defaultRole: .bind)
            } catch {
                throw .invalid(
                    key: "sidecar.input", value: inputText,
                    reason: "expected an endpoint such as @tcp://127.0.0.1:5555 (\(error))")
            }
        } else {
            input = defaults.input
        }
        if let outputText = try settings.string("sidecar.output", default: nil) {
            do {
                output = try OutputTarget(parsing: outputText)
            } catch {
                throw .invalid(key: "sidecar.output", value: outputText, reason: "\(error)")
            }
        } else {
            output = defaults.output
        }
        let workerSetting = try settings.int("sidecar.workers", default: 0, in: 0...1024)
        workers = workerSetting == 0 ? defaults.workers : workerSetting
        queue = try settings.int("sidecar.queue", default: defaults.queue, in: 1...1024)
        outputMode = try settings.choice("sidecar.output_mode", default: OutputMode.link)
        if outputMode == .link, case .zeromq(let endpoints) = output, endpoints.count > 1 {
            // A DEALER deals messages out in turn: each aggregator would see every other seq.
            throw .invalid(
                key: "sidecar.output", value: output.description,
                reason: "the record link goes to one aggregator; name one endpoint, or use --output-mode push")
        }
        var link = LinkSettings()
        link.outboxRecords = try settings.int(
            "sidecar.outbox_records", default: link.outboxRecords, in: 1...100_000_000)
        link.outboxBytes = try settings.int("sidecar.outbox_bytes", default: link.outboxBytes, in: 1024...Int.max)
        let spool = try settings.string("sidecar.spool", default: nil)
        link.spool = (spool?.isEmpty ?? true) ? nil : spool
        link.ackTimeout = .milliseconds(
            Int64(1000 * (try settings.double("sidecar.ack_timeout_seconds", default: 30, in: 0...86_400))))
        self.link = link
        sendHighWaterMark = try settings.int(
            "sidecar.send_hwm", default: defaults.sendHighWaterMark, in: 1...10_000_000)
        outputLinger = .milliseconds(
            Int64(1000 * (try settings.double("sidecar.linger_seconds", default: 30, in: 0...3600))))
        let record = try settings.string("sidecar.record", default: nil)
        recordPath = (record?.isEmpty ?? true) ? nil : record
        let version = try settings.int(
            "sidecar.record_version", default: defaults.recordVersion.rawValue,
            in: RecordingFormat.Version.v1.rawValue...RecordingFormat.Version.v2.rawValue)
        recordVersion = RecordingFormat.Version(rawValue: version) ?? defaults.recordVersion
        statusInterval = .milliseconds(
            Int64(1000 * (try settings.double("sidecar.status_interval_seconds", default: 10, in: 0...86_400))))
        processor = try BatchProcessor(reading: settings)
        inputSecurity = try SocketSecurity(server: "sidecar.input", reading: settings)
        outputSecurity = try SocketSecurity(client: "sidecar.output", reading: settings)
    }
}

extension BatchProcessor {
    /// Reads `loss.*`, `limits.*` and `sidecar.sidecar_id`.
    ///
    /// `loss.profile` (default `keras`) gives the settings; each of the other `loss.*` keys that
    /// is set (and not empty) overrides its value, and one the profile's framework has no knob
    /// for is refused with the key's name.
    public init(reading settings: SettingsReader) throws(SettingsError) {
        let profile = try settings.choice("loss.profile", default: LossProfile.keras)
        var parameters = profile.parameters
        if let value = try settings.optionalInt("loss.neg_pos_ratio", in: 0...1_000_000) {
            parameters.negPosRatio = value
        }
        if let value = try settings.optionalInt("loss.n_neg_min", in: 0...Int(Int32.max)) { parameters.nNegMin = value }
        if let value = try settings.optionalDouble("loss.alpha", in: 0...Double.greatestFiniteMagnitude) {
            parameters.alpha = value
        }
        if let value = try settings.optionalChoice("loss.mining", as: MiningMode.self) { parameters.mining = value }
        if let value = try settings.optionalChoice("loss.scores", as: ScoreKind.self) { parameters.scores = value }
        if let refused = profile.firstUnsupported(in: parameters) {
            throw .invalid(
                key: "loss.\(refused.rawValue)", value: parameters.value(of: refused),
                reason: profile.refusal(of: refused))
        }
        var limits = WireLimits()
        limits.maxMessageBytes = try settings.int(
            "limits.max_message_bytes", default: limits.maxMessageBytes, in: 64...Int.max)
        let id = try settings.string("sidecar.sidecar_id", default: nil)
        self.init(
            defaults: parameters, limits: limits,
            sidecarID: (id?.isEmpty ?? true) ? BatchProcessor.defaultSidecarID : id ?? "")
    }
}

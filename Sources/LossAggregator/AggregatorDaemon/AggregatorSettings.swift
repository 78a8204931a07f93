public import LossPipeline
public import ZeroMQ

/// Everything `lossd aggregate` runs with, resolved and checked (the `aggregate.*` settings).
public struct AggregatorSettings: Sendable {
    /// Where sidecars' record links arrive (a ROUTER socket; a bare endpoint binds). Default
    /// `@tcp://127.0.0.1:5556`.
    public var input: [Endpoint]
    /// Where plain PUSH producers send records (a PULL socket, at-most-once as before the link),
    /// or nil for none (the default).
    public var pullInput: [Endpoint]?
    /// How soon after records arrive over a link the state is saved so that they can be
    /// acknowledged (with a state file). Default 0.2 s.
    public var ackInterval: Duration
    /// How many records a sidecar may send past what was ingested (credit). Default 1000.
    public var linkCredit: Int
    /// Where the HTTP server listens. Default `127.0.0.1:9180`.
    public var http: HTTPAddress
    /// The state file, or nil for none (nothing survives a restart).
    public var statePath: String?
    /// The JSON Lines file snapshots are appended to, or nil.
    public var snapshotsPath: String?
    /// Where snapshots are published (a PUB socket, topic `stats`; a bare endpoint binds), or nil.
    public var publish: [Endpoint]?
    /// The folder TensorBoard event files are written under (one folder per run and split), or nil.
    public var tensorboardPath: String?
    /// How often a snapshot is written and published. Default 10 s.
    public var snapshotInterval: Duration
    /// How often the state is saved; a restart loses at most this much. Default 10 s.
    public var stateInterval: Duration
    /// The statistics' parameters (EMA decay, window, reorder window, max keys, history points).
    public var parameters: AggregationParameters
    /// The setting name of the input (`aggregate.input`; `serve.records_input` in `lossd serve`):
    /// the `socket` label of its handshake failures and its ZAP domain.
    public var inputName: String
    /// The input's security (`<input>_key_file`, `<input>_allowed_clients`, or the process-wide
    /// `curve.*`): plain, or a CURVE server.
    public var inputSecurity: SocketSecurity
    /// The publish socket's security (`aggregate.publish_key_file`,
    /// `aggregate.publish_allowed_clients`, or the process-wide `curve.*`): plain, or a CURVE
    /// server that subscribers must know the key of.
    public var publishSecurity: SocketSecurity
    /// TLS and basic authentication for the HTTP port, read from the web configuration file
    /// (`aggregate.web_config`), or nil to serve plain HTTP to anyone who can reach it.
    public var webConfig: WebConfig?
    /// Whether `/healthz` answers without credentials when basic authentication is on. Default false.
    public var openHealthz: Bool

    /// The setting name of the publish socket: the `socket` label of its handshake failures and
    /// its ZAP domain.
    public static let publishName = "aggregate.publish"

    /// `@tcp://127.0.0.1:5556`: where the sidecars' default output connects.
    public static let defaultInput: [Endpoint] =
        (try? Endpoint.parseList("@tcp://127.0.0.1:5556", defaultRole: .bind)) ?? []

    /// The defaults of SPEC §5 and §6.
    public init(
        input: [Endpoint] = AggregatorSettings.defaultInput,
        pullInput: [Endpoint]? = nil,
        ackInterval: Duration = .milliseconds(200),
        linkCredit: Int = 1000,
        http: HTTPAddress = HTTPAddress(host: "127.0.0.1", port: 9180),
        statePath: String? = nil,
        snapshotsPath: String? = nil,
        publish: [Endpoint]? = nil,
        tensorboardPath: String? = nil,
        snapshotInterval: Duration = .seconds(10),
        stateInterval: Duration = .seconds(10),
        parameters: AggregationParameters = AggregationParameters(),
        inputName: String = "aggregate.input",
        inputSecurity: SocketSecurity = .plain,
        publishSecurity: SocketSecurity = .plain,
        webConfig: WebConfig? = nil,
        openHealthz: Bool = false
    ) {
        self.input = input
        self.pullInput = pullInput
        self.ackInterval = ackInterval
        self.linkCredit = linkCredit
        self.http = http
        self.statePath = statePath
        self.snapshotsPath = snapshotsPath
        self.publish = publish
        self.tensorboardPath = tensorboardPath
        self.snapshotInterval = snapshotInterval
        self.stateInterval = stateInterval
        self.parameters = parameters
        self.inputName = inputName
        self.inputSecurity = inputSecurity
        self.publishSecurity = publishSecurity
        self.webConfig = webConfig
        self.openHealthz = openHealthz
    }

    /// Reads every `aggregate.*` key, checking each.
    public init(reading settings: SettingsReader) throws(SettingsError) {
        let defaults = AggregatorSettings()
        input = try Self.endpoints(settings, "aggregate.input", example: "@tcp://127.0.0.1:5556") ?? defaults.input
        pullInput = try Self.endpoints(settings, "aggregate.pull_input", example: "@tcp://127.0.0.1:5558")
        ackInterval = .milliseconds(
            Int64((1000 * (try settings.double("aggregate.ack_interval", default: 0.2, in: 0.001...60))).rounded()))
        linkCredit = try settings.int("aggregate.link_credit", default: defaults.linkCredit, in: 1...1_000_000)
        if let text = try settings.string("aggregate.http", default: nil) {
            do {
                http = try HTTPAddress(parsing: text)
            } catch {
                throw .invalid(key: "aggregate.http", value: text, reason: error.reason)
            }
        } else {
            http = defaults.http
        }
        statePath = try Self.path(settings, "aggregate.state")
        snapshotsPath = try Self.path(settings, "aggregate.snapshots")
        publish = try Self.endpoints(settings, "aggregate.publish", example: "@tcp://127.0.0.1:5557")
        tensorboardPath = try Self.path(settings, "aggregate.tensorboard")
        snapshotInterval = try Self.seconds(settings, "aggregate.snapshot_interval", default: 10)
        stateInterval = try Self.seconds(settings, "aggregate.state_interval", default: 10)
        let builtIn = AggregationParameters()
        let decay = try settings.double("aggregate.ema_decay", default: builtIn.emaDecay, in: 0...1)
        guard decay < 1 else {
            throw .invalid(
                key: "aggregate.ema_decay", value: "\(decay)",
                reason: "expected a number in 0…1, less than 1 (1 would never move)")
        }
        parameters = AggregationParameters(
            emaDecay: decay,
            window: try settings.int("aggregate.window", default: builtIn.window, in: 1...1_000_000),
            reorderWindow: try settings.int(
                "aggregate.reorder_window", default: builtIn.reorderWindow,
                in: 0...AggregationParameters.maxReorderWindow),
            maxKeys: try settings.int("aggregate.max_keys", default: builtIn.maxKeys, in: 1...1_000_000),
            historyPoints: try settings.int(
                "aggregate.history_points", default: builtIn.historyPoints, in: AggregationParameters.historyPointsRange
            ),
            stepTimeout: try settings.double(
                "aggregate.step_timeout", default: builtIn.stepTimeout, in: AggregationParameters.stepTimeoutRange),
            openSteps: try settings.int(
                "aggregate.open_steps", default: builtIn.openSteps, in: AggregationParameters.openStepsRange),
            stepHistory: try settings.int(
                "aggregate.step_history", default: builtIn.stepHistory, in: AggregationParameters.stepHistoryRange),
            resume: try settings.choice("aggregate.resume", default: builtIn.resume),
            streamIdle: try settings.double(
                "aggregate.stream_idle", default: builtIn.streamIdle, in: AggregationParameters.streamIdleRange),
            maxStreams: try settings.int(
                "aggregate.max_streams", default: builtIn.maxStreams, in: AggregationParameters.maxStreamsRange),
            divergence: DivergenceRule(
                factor: try settings.double(
                    "aggregate.divergence_factor", default: builtIn.divergence.factor, in: DivergenceRule.factorRange),
                steps: try settings.int(
                    "aggregate.divergence_steps", default: builtIn.divergence.steps, in: DivergenceRule.stepsRange)))
        inputName = defaults.inputName
        inputSecurity = try SocketSecurity(server: inputName, reading: settings)
        publishSecurity = try SocketSecurity(server: Self.publishName, reading: settings)
        if let path = try Self.path(settings, "aggregate.web_config") {
            do {
                webConfig = try WebConfig.load(path: path)
            } catch {
                throw .invalid(key: "aggregate.web_config", value: path, reason: "\(error)")
            }
        } else {
            webConfig = nil
        }
        openHealthz = try settings.bool("aggregate.open_healthz", default: false)
    }

    /// An endpoint list, or nil when the key is absent or empty.
    private static func endpoints(
        _ settings: SettingsReader, _ key: String, example: String
    ) throws(SettingsError) -> [Endpoint]? {
        guard let text = try settings.string(key, default: nil), !text.isEmpty else { return nil }
        do {
            return try Endpoint.parseList(text, defaultRole: .bind)
        } catch {
            throw .invalid(key: key, value: text, reason: "expected an endpoint such as \(example) (\(error))")
        }
    }

    /// A path, or nil when the key is absent or empty.
    private static func path(_ settings: SettingsReader, _ key: String) throws(SettingsError) -> String? {
        guard let text = try settings.string(key, default: nil), !text.isEmpty else { return nil }
        return text
    }

    /// A positive interval in seconds (fractions allowed).
    private static func seconds(
        _ settings: SettingsReader, _ key: String, default defaultValue: Double
    ) throws(SettingsError) -> Duration {
        let value = try settings.double(key, default: defaultValue, in: 0.01...86_400)
        return .milliseconds(Int64((value * 1000).rounded()))
    }
}

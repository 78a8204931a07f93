import Configuration
import Foundation
import LossPipeline
import LossWire
import SSDLoss
import Testing
import ZeroMQ

@testable import LossAggregator

@Suite("Settings: flags > environment > file > defaults")
struct SettingsTests {
    /// The repository's Config/lossd.yaml, found from this file's path.
    static let documentedConfig = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config/lossd.yaml").path

    private func write(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("Config/lossd.yaml states exactly the built-in defaults")
    func documentedDefaults() async throws {
        let settings = try await SettingsReader.load(flags: [:], configFile: Self.documentedConfig, environment: [:])
        let fromFile = try SidecarSettings(reading: settings)
        let builtIn = SidecarSettings()
        #expect(fromFile.input == builtIn.input)
        #expect(fromFile.output == builtIn.output)
        #expect(fromFile.workers == builtIn.workers)
        #expect(fromFile.queue == builtIn.queue)
        #expect(fromFile.sendHighWaterMark == builtIn.sendHighWaterMark)
        #expect(fromFile.outputLinger == builtIn.outputLinger)
        #expect(fromFile.recordPath == builtIn.recordPath)
        #expect(fromFile.recordVersion == builtIn.recordVersion)
        #expect(fromFile.statusInterval == builtIn.statusInterval)
        #expect(fromFile.processor.defaults == builtIn.processor.defaults)
        #expect(fromFile.processor.limits == builtIn.processor.limits)
        #expect(fromFile.inputSecurity == builtIn.inputSecurity)
        #expect(fromFile.outputSecurity == builtIn.outputSecurity)
        #expect(try settings.string("log.level", default: nil) == "info")

        let aggregateFromFile = try AggregatorSettings(reading: settings)
        let aggregateBuiltIn = AggregatorSettings()
        #expect(aggregateFromFile.input == aggregateBuiltIn.input)
        #expect(aggregateFromFile.http == aggregateBuiltIn.http)
        #expect(aggregateFromFile.statePath == aggregateBuiltIn.statePath)
        #expect(aggregateFromFile.snapshotsPath == aggregateBuiltIn.snapshotsPath)
        #expect(aggregateFromFile.publish == aggregateBuiltIn.publish)
        #expect(aggregateFromFile.tensorboardPath == aggregateBuiltIn.tensorboardPath)
        #expect(aggregateFromFile.snapshotInterval == aggregateBuiltIn.snapshotInterval)
        #expect(aggregateFromFile.stateInterval == aggregateBuiltIn.stateInterval)
        #expect(aggregateFromFile.parameters == aggregateBuiltIn.parameters)
        #expect(aggregateFromFile.inputSecurity == aggregateBuiltIn.inputSecurity)
        #expect(aggregateFromFile.publishSecurity == aggregateBuiltIn.publishSecurity)
        #expect(aggregateFromFile.webConfig == nil && aggregateBuiltIn.webConfig == nil)
        #expect(aggregateFromFile.openHealthz == aggregateBuiltIn.openHealthz)
        #expect(aggregateBuiltIn.input.map(\.description) == ["@tcp://127.0.0.1:5556"])
        #expect(aggregateBuiltIn.http.description == "127.0.0.1:9180")
        #expect(
            aggregateBuiltIn.parameters
                == AggregationParameters(emaDecay: 0.98, window: 100, reorderWindow: 1024, maxKeys: 1000))
    }

    @Test("every key the code reads is documented in Config/lossd.yaml")
    func everyKeyDocumented() throws {
        let yaml = try String(contentsOfFile: Self.documentedConfig, encoding: .utf8)
        let keys = [
            "sidecar": [
                "input", "output", "workers", "queue", "send_hwm", "linger_seconds", "record", "record_version",
                "sidecar_id",
                "status_interval_seconds", "input_key_file", "input_allowed_clients", "output_server_key",
                "output_key_file",
            ],
            "curve": ["key_file", "allowed_clients"],
            "loss": ["profile", "neg_pos_ratio", "n_neg_min", "alpha", "mining", "scores"],
            "limits": ["max_message_bytes"],
            "serve": ["records_input", "records_input_key_file", "records_input_allowed_clients"],
            "aggregate": [
                "input", "input_key_file", "input_allowed_clients", "http", "state", "snapshots", "publish",
                "publish_key_file", "publish_allowed_clients",
                "snapshot_interval", "state_interval", "ema_decay", "window", "reorder_window", "max_keys",
                "history_points", "tensorboard", "step_timeout", "open_steps", "step_history", "resume",
                "stream_idle", "max_streams", "web_config", "open_healthz", "divergence_factor",
                "divergence_steps",
            ],
            "log": ["level"],
        ]
        for (section, names) in keys {
            #expect(yaml.contains("\n\(section):\n"), "section \(section)")
            for name in names { #expect(yaml.contains("\n  \(name): "), "\(section).\(name)") }
        }
    }

    @Test("a flag wins over the environment, which wins over the file, which wins over the default")
    func precedence() async throws {
        let file = try write("sidecar:\n  workers: 3\n  queue: 5\n  send_hwm: 7\nloss:\n  alpha: 0.25\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let settings = try await SettingsReader.load(
            flags: ["sidecar.workers": .int(9)],
            configFile: file,
            environment: ["LOSSD_SIDECAR_WORKERS": "6", "LOSSD_SIDECAR_QUEUE": "4"])
        let sidecar = try SidecarSettings(reading: settings)
        #expect(sidecar.workers == 9)  // flag
        #expect(sidecar.queue == 4)  // environment over file
        #expect(sidecar.sendHighWaterMark == 7)  // file
        #expect(sidecar.processor.defaults.alpha == 0.25)  // file
        #expect(sidecar.processor.defaults.negPosRatio == 3)  // default
    }

    @Test(
        "invalid values are refused with the key's name",
        arguments: [
            (["LOSSD_SIDECAR_WORKERS": "many"], "sidecar.workers"),
            (["LOSSD_SIDECAR_QUEUE": "0"], "sidecar.queue"),
            (["LOSSD_SIDECAR_RECORD_VERSION": "3"], "sidecar.record_version"),
            (["LOSSD_LOSS_ALPHA": "-1"], "loss.alpha"),
            (["LOSSD_LOSS_MINING": "sometimes"], "loss.mining"),
            (["LOSSD_SIDECAR_INPUT": "udp://127.0.0.1:1"], "sidecar.input"),
            (["LOSSD_SIDECAR_OUTPUT": "nowhere"], "sidecar.output"),
            (["LOSSD_LIMITS_MAX_MESSAGE_BYTES": "12"], "limits.max_message_bytes"),
            (["LOSSD_AGGREGATE_INPUT": "tcp://nowhere"], "aggregate.input"),
            (["LOSSD_AGGREGATE_HTTP": "127.0.0.1"], "aggregate.http"),
            (["LOSSD_AGGREGATE_HTTP": "localhost:70000"], "aggregate.http"),
            (["LOSSD_AGGREGATE_PUBLISH": "pgm://x"], "aggregate.publish"),
            (["LOSSD_AGGREGATE_EMA_DECAY": "1"], "aggregate.ema_decay"),
            (["LOSSD_AGGREGATE_WINDOW": "0"], "aggregate.window"),
            (["LOSSD_AGGREGATE_REORDER_WINDOW": "1000000"], "aggregate.reorder_window"),
            (["LOSSD_AGGREGATE_MAX_KEYS": "0"], "aggregate.max_keys"),
            (["LOSSD_AGGREGATE_HISTORY_POINTS": "3"], "aggregate.history_points"),
            (["LOSSD_AGGREGATE_SNAPSHOT_INTERVAL": "0"], "aggregate.snapshot_interval"),
            (["LOSSD_AGGREGATE_STATE_INTERVAL": "soon"], "aggregate.state_interval"),
            (["LOSSD_AGGREGATE_STEP_TIMEOUT": "0"], "aggregate.step_timeout"),
            (["LOSSD_AGGREGATE_STEP_TIMEOUT": "never"], "aggregate.step_timeout"),
            (["LOSSD_AGGREGATE_OPEN_STEPS": "0"], "aggregate.open_steps"),
            (["LOSSD_AGGREGATE_STEP_HISTORY": "-5"], "aggregate.step_history"),
            (["LOSSD_AGGREGATE_RESUME": "rewind"], "aggregate.resume"),
            (["LOSSD_AGGREGATE_STREAM_IDLE": "0.5"], "aggregate.stream_idle"),
            (["LOSSD_AGGREGATE_MAX_STREAMS": "0"], "aggregate.max_streams"),
            (["LOSSD_AGGREGATE_WEB_CONFIG": "/nonexistent/web.yml"], "aggregate.web_config"),
            (["LOSSD_AGGREGATE_OPEN_HEALTHZ": "sometimes"], "aggregate.open_healthz"),
            (["LOSSD_AGGREGATE_DIVERGENCE_FACTOR": "0.5"], "aggregate.divergence_factor"),
            (["LOSSD_AGGREGATE_DIVERGENCE_FACTOR": "ten"], "aggregate.divergence_factor"),
            (["LOSSD_AGGREGATE_DIVERGENCE_STEPS": "0"], "aggregate.divergence_steps"),
        ])
    func invalidValues(environment: [String: String], key: String) async throws {
        let settings = try await SettingsReader.load(flags: [:], configFile: nil, environment: environment)
        do {
            _ = try SidecarSettings(reading: settings)
            _ = try AggregatorSettings(reading: settings)
            Issue.record("\(environment) was accepted")
        } catch {
            #expect("\(error)".contains(key), "\(error)")
            #expect("\(error)".contains(SettingsError.environmentName(of: key)))
        }
    }

    @Test("aggregate settings: a flag wins over the environment, which wins over the file")
    func aggregatePrecedence() async throws {
        let file = try write("aggregate:\n  window: 7\n  ema_decay: 0.5\n  http: \"0.0.0.0:1\"\n  state: /tmp/s.json\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let settings = try await SettingsReader.load(
            flags: ["aggregate.window": .int(9)],
            configFile: file,
            environment: ["LOSSD_AGGREGATE_EMA_DECAY": "0.25", "LOSSD_AGGREGATE_SNAPSHOT_INTERVAL": "0.5"])
        let aggregate = try AggregatorSettings(reading: settings)
        #expect(aggregate.parameters.window == 9)  // flag
        #expect(aggregate.parameters.emaDecay == 0.25)  // environment over file
        #expect(aggregate.http == HTTPAddress(host: "0.0.0.0", port: 1))  // file
        #expect(aggregate.statePath == "/tmp/s.json")
        #expect(aggregate.snapshotInterval == .milliseconds(500))
        #expect(aggregate.parameters.reorderWindow == 1024)  // default
    }

    @Test(
        "the publish socket: its own key pair, else curve.key_file; allowed subscribers need a key pair",
        .enabled(if: ZeroMQ.hasCapability("curve")))
    func publishSecurity() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-publish-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let own = try CurveKeyPair.generate()
        let shared = try CurveKeyPair.generate()
        let watcher = try CurveKeyPair.generate()
        for (pair, name) in [(own, "own"), (shared, "shared"), (watcher, "watcher")] {
            try KeyFile.write(pair, name: folder.appendingPathComponent(name).path)
        }
        func read(_ environment: [String: String]) async throws -> AggregatorSettings {
            try AggregatorSettings(
                reading: try await SettingsReader.load(flags: [:], configFile: nil, environment: environment))
        }
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        #expect(try await read([:]).publishSecurity == .plain)
        let everywhere = try await read(["LOSSD_CURVE_KEY_FILE": path("shared.key")])
        #expect(everywhere.publishSecurity == .curveServer(shared, allowedClients: nil))
        let ownPair = try await read([
            "LOSSD_CURVE_KEY_FILE": path("shared.key"), "LOSSD_AGGREGATE_PUBLISH_KEY_FILE": path("own.key"),
            "LOSSD_AGGREGATE_PUBLISH_ALLOWED_CLIENTS": path("watcher.pub"),
        ])
        #expect(ownPair.publishSecurity == .curveServer(own, allowedClients: [watcher.publicKey]))
        #expect(ownPair.inputSecurity == .curveServer(shared, allowedClients: nil))
        await #expect(throws: SettingsError.self) {
            try await read(["LOSSD_AGGREGATE_PUBLISH_ALLOWED_CLIENTS": path("watcher.pub")])
        }
    }

    @Test("the step and stream settings: a resume policy names its choices; each is read from its key")
    func stepSettings() async throws {
        let settings = try await SettingsReader.load(
            flags: ["aggregate.tensorboard": .string("runs/tb"), "aggregate.resume": .string("keep")], configFile: nil,
            environment: [
                "LOSSD_AGGREGATE_STEP_TIMEOUT": "2.5", "LOSSD_AGGREGATE_OPEN_STEPS": "8",
                "LOSSD_AGGREGATE_STEP_HISTORY": "50", "LOSSD_AGGREGATE_STREAM_IDLE": "600",
                "LOSSD_AGGREGATE_MAX_STREAMS": "16",
            ])
        let aggregate = try AggregatorSettings(reading: settings)
        #expect(aggregate.tensorboardPath == "runs/tb")
        #expect(
            aggregate.parameters
                == AggregationParameters(
                    stepTimeout: 2.5, openSteps: 8, stepHistory: 50, resume: .keep, streamIdle: 600, maxStreams: 16))
        let refused = try await SettingsReader.load(
            flags: ["aggregate.resume": .string("rewind")], configFile: nil, environment: [:])
        let error = try #require(throws: SettingsError.self) { try AggregatorSettings(reading: refused) }
        #expect("\(error)".contains("expected one of replace, keep"), "\(error)")
    }

    @Test("the divergence settings: a flag wins over the environment, which wins over the file")
    func divergenceSettings() async throws {
        let file = try write("aggregate:\n  divergence_factor: 4\n  divergence_steps: 7\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let defaults = try AggregatorSettings(
            reading: try await SettingsReader.load(flags: [:], configFile: nil, environment: [:]))
        #expect(defaults.parameters.divergence == DivergenceRule(factor: 10, steps: 3))
        let fromFile = try AggregatorSettings(
            reading: try await SettingsReader.load(flags: [:], configFile: file, environment: [:]))
        #expect(fromFile.parameters.divergence == DivergenceRule(factor: 4, steps: 7))
        let settings = try await SettingsReader.load(
            flags: ["aggregate.divergence_steps": .int(2)], configFile: file,
            environment: ["LOSSD_AGGREGATE_DIVERGENCE_FACTOR": "2.5", "LOSSD_AGGREGATE_DIVERGENCE_STEPS": "5"])
        #expect(
            try AggregatorSettings(reading: settings).parameters.divergence == DivergenceRule(factor: 2.5, steps: 2))
    }

    @Test("HTTP addresses parse as host:port and [ipv6]:port")
    func httpAddresses() throws {
        #expect(try HTTPAddress(parsing: "127.0.0.1:9180") == HTTPAddress(host: "127.0.0.1", port: 9180))
        #expect(try HTTPAddress(parsing: " [::1]:0 ") == HTTPAddress(host: "::1", port: 0))
        #expect(try HTTPAddress(parsing: "[::1]:80").description == "[::1]:80")
        for bad in ["", ":80", "host", "host:", "host:x", "[::1]80", "h:65536"] {
            #expect(throws: HTTPAddressError.self) { try HTTPAddress(parsing: bad) }
        }
    }

    @Test("loss.profile gives its framework's settings; a set key overrides where the framework has the knob")
    func lossProfile() async throws {
        let file = try write("loss:\n  profile: torchvision\n  neg_pos_ratio: 5\n  alpha: \"\"\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let settings = try await SettingsReader.load(flags: [:], configFile: file, environment: [:])
        var expected = LossProfile.torchvision.parameters
        expected.negPosRatio = 5
        #expect(try BatchProcessor(reading: settings).defaults == expected)

        let refused = try await SettingsReader.load(
            flags: ["loss.profile": .string("mmdet")], configFile: nil, environment: ["LOSSD_LOSS_MINING": "batch"])
        let error = try #require(throws: SettingsError.self) { try BatchProcessor(reading: refused) }
        #expect("\(error)".contains("invalid setting loss.mining = 'batch': profile mmdet cannot take it"))
        #expect("\(error)".contains("accepted: image"))

        let unknown = try await SettingsReader.load(
            flags: [:], configFile: nil, environment: ["LOSSD_LOSS_PROFILE": "yolo"])
        let unknownError = try #require(throws: SettingsError.self) { try BatchProcessor(reading: unknown) }
        #expect("\(unknownError)".contains("expected one of keras, torchvision, mmdet, ssd.pytorch"))
    }

    @Test("a file that does not exist is refused with its path")
    func missingFile() async throws {
        await #expect(throws: SettingsError.self) {
            _ = try await SettingsReader.load(flags: [:], configFile: "/nonexistent/lossd.yaml", environment: [:])
        }
    }

    @Test("outputs parse as -, a .jsonl path, or endpoints that connect by default")
    func outputTargets() throws {
        #expect(try OutputTarget(parsing: "-") == .standardOutput)
        #expect(try OutputTarget(parsing: "records.jsonl") == .file("records.jsonl"))
        guard case .zeromq(let endpoints) = try OutputTarget(parsing: "tcp://127.0.0.1:5556,@ipc:///tmp/x") else {
            Issue.record("not an endpoint list")
            return
        }
        #expect(endpoints.map(\.description) == [">tcp://127.0.0.1:5556", "@ipc:///tmp/x"])
    }
}

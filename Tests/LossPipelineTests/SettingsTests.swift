import Configuration
import Foundation
import Testing

@testable import LossPipeline

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
        #expect(fromFile.statusInterval == builtIn.statusInterval)
        #expect(fromFile.processor.defaults == builtIn.processor.defaults)
        #expect(fromFile.processor.limits == builtIn.processor.limits)
        #expect(fromFile.curve == builtIn.curve)
        #expect(fromFile.outputServerKey == builtIn.outputServerKey)
        #expect(try settings.string("log.level", default: nil) == "info")
    }

    @Test("every key the code reads is documented in Config/lossd.yaml")
    func everyKeyDocumented() throws {
        let yaml = try String(contentsOfFile: Self.documentedConfig, encoding: .utf8)
        let keys = [
            "sidecar": ["input", "output", "workers", "queue", "send_hwm", "linger_seconds", "record", "sidecar_id", "status_interval_seconds", "output_server_key"],
            "curve": ["key_file", "allowed_clients"],
            "loss": ["neg_pos_ratio", "n_neg_min", "alpha", "mining", "scores"],
            "limits": ["max_message_bytes"],
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

    @Test("invalid values are refused with the key's name", arguments: [
        (["LOSSD_SIDECAR_WORKERS": "many"], "sidecar.workers"),
        (["LOSSD_SIDECAR_QUEUE": "0"], "sidecar.queue"),
        (["LOSSD_LOSS_ALPHA": "-1"], "loss.alpha"),
        (["LOSSD_LOSS_MINING": "sometimes"], "loss.mining"),
        (["LOSSD_SIDECAR_INPUT": "udp://127.0.0.1:1"], "sidecar.input"),
        (["LOSSD_SIDECAR_OUTPUT": "nowhere"], "sidecar.output"),
        (["LOSSD_LIMITS_MAX_MESSAGE_BYTES": "12"], "limits.max_message_bytes"),
    ])
    func invalidValues(environment: [String: String], key: String) async throws {
        let settings = try await SettingsReader.load(flags: [:], configFile: nil, environment: environment)
        do {
            _ = try SidecarSettings(reading: settings)
            Issue.record("\(environment) was accepted")
        } catch {
            #expect("\(error)".contains(key), "\(error)")
            #expect("\(error)".contains(SettingsError.environmentName(of: key)))
        }
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

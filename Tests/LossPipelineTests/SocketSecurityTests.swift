import Foundation
import LossPipeline
import Testing
import ZeroMQ

@Suite("CURVE settings per socket", .enabled(if: ZeroMQ.hasCapability("curve")))
struct SocketSecurityTests {
    /// Key files in a fresh directory: `sidecar`, `aggregator`, `trainer` (`.key` and `.pub`).
    final class Keys {
        let directory: String
        let sidecar: CurveKeyPair
        let aggregator: CurveKeyPair
        let trainer: CurveKeyPair

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("lossd-keys-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            sidecar = try CurveKeyPair.generate()
            aggregator = try CurveKeyPair.generate()
            trainer = try CurveKeyPair.generate()
            try KeyFile.write(sidecar, name: path("sidecar"))
            try KeyFile.write(aggregator, name: path("aggregator"))
            try KeyFile.write(trainer, name: path("trainer"))
        }

        func path(_ name: String) -> String { directory + "/" + name }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    private func sidecar(_ environment: [String: String]) async throws -> SidecarSettings {
        try SidecarSettings(
            reading: try await SettingsReader.load(flags: [:], configFile: nil, environment: environment))
    }

    @Test("an encrypted output leaves the input plain: the deployment of docs/SECURITY.md")
    func outputOnly() async throws {
        let keys = try Keys()
        let settings = try await sidecar([
            "LOSSD_SIDECAR_OUTPUT_KEY_FILE": keys.path("sidecar.key"),
            "LOSSD_SIDECAR_OUTPUT_SERVER_KEY": keys.path("aggregator.pub"),
        ])
        #expect(settings.inputSecurity == .plain)
        #expect(settings.outputSecurity == .curveClient(keys.sidecar, serverKey: keys.aggregator.publicKey))
    }

    @Test("a CURVE input leaves the output plain")
    func inputOnly() async throws {
        let keys = try Keys()
        let settings = try await sidecar([
            "LOSSD_SIDECAR_INPUT_KEY_FILE": keys.path("sidecar.key"),
            "LOSSD_SIDECAR_INPUT_ALLOWED_CLIENTS": keys.path("trainer.pub"),
        ])
        #expect(settings.inputSecurity == .curveServer(keys.sidecar, allowedClients: [keys.trainer.publicKey]))
        #expect(settings.outputSecurity == .plain)
    }

    @Test("curve.key_file still means every socket: the input requires CURVE, the output uses it with a server key")
    func everySocket() async throws {
        let keys = try Keys()
        let withoutServerKey = try await sidecar(["LOSSD_CURVE_KEY_FILE": keys.path("sidecar.key")])
        #expect(withoutServerKey.inputSecurity == .curveServer(keys.sidecar, allowedClients: nil))
        #expect(withoutServerKey.outputSecurity == .plain)
        let everywhere = try await sidecar([
            "LOSSD_CURVE_KEY_FILE": keys.path("sidecar.key"),
            "LOSSD_CURVE_ALLOWED_CLIENTS": keys.path("trainer.pub"),
            "LOSSD_SIDECAR_OUTPUT_SERVER_KEY": keys.aggregator.publicKey,
        ])
        #expect(everywhere.inputSecurity == .curveServer(keys.sidecar, allowedClients: [keys.trainer.publicKey]))
        #expect(everywhere.outputSecurity == .curveClient(keys.sidecar, serverKey: keys.aggregator.publicKey))
    }

    @Test("a socket's own settings win over curve.*")
    func perSocketWins() async throws {
        let keys = try Keys()
        let settings = try await sidecar([
            "LOSSD_CURVE_KEY_FILE": keys.path("sidecar.key"),
            "LOSSD_CURVE_ALLOWED_CLIENTS": keys.path("trainer.pub"),
            "LOSSD_SIDECAR_INPUT_KEY_FILE": keys.path("aggregator.key"),
            "LOSSD_SIDECAR_INPUT_ALLOWED_CLIENTS": keys.aggregator.publicKey,
            "LOSSD_SIDECAR_OUTPUT_KEY_FILE": keys.path("trainer.key"),
            "LOSSD_SIDECAR_OUTPUT_SERVER_KEY": keys.path("aggregator.pub"),
        ])
        #expect(settings.inputSecurity == .curveServer(keys.aggregator, allowedClients: [keys.aggregator.publicKey]))
        #expect(settings.outputSecurity == .curveClient(keys.trainer, serverKey: keys.aggregator.publicKey))
    }

    @Test(
        "settings that cannot work are refused, naming the key to set",
        arguments: [
            (
                ["LOSSD_SIDECAR_INPUT_ALLOWED_CLIENTS": "trainer.pub"], "sidecar.input_allowed_clients",
                "sidecar.input_key_file"
            ),
            (
                ["LOSSD_SIDECAR_OUTPUT_SERVER_KEY": "aggregator.pub"], "sidecar.output_server_key",
                "sidecar.output_key_file"
            ),
            (["LOSSD_SIDECAR_OUTPUT_KEY_FILE": "sidecar.key"], "sidecar.output_key_file", "sidecar.output_server_key"),
            (["LOSSD_SIDECAR_INPUT_KEY_FILE": "missing.key"], "sidecar.input_key_file", "cannot read the key file"),
        ])
    func refused(environment: [String: String], key: String, advice: String) async throws {
        let keys = try Keys()
        let resolved = environment.mapValues { $0.hasSuffix(".pub") || $0.hasSuffix(".key") ? keys.path($0) : $0 }
        let error = await #expect(throws: SettingsError.self) { try await sidecar(resolved) }
        #expect("\(error.map { "\($0)" } ?? "")".contains(key))
        #expect("\(error.map { "\($0)" } ?? "")".contains(advice))
    }

    @Test("a server's options carry its ZAP domain; a client's the server's key")
    func socketOptions() throws {
        let pair = try CurveKeyPair.generate()
        #expect(SocketSecurity.plain.socketOptions(zapDomain: "sidecar.input").isEmpty)
        #expect(
            SocketSecurity.curveServer(pair, allowedClients: nil).socketOptions(zapDomain: "sidecar.input")
                == pair.serverOptions + [.zapDomain("sidecar.input")])
        #expect(
            SocketSecurity.curveClient(pair, serverKey: pair.publicKey).socketOptions(zapDomain: "x")
                == pair.clientOptions(serverKey: pair.publicKey))
        #expect("\(SocketSecurity.curveServer(pair, allowedClients: [pair.publicKey]))".contains("1 allowed client)"))
    }
}

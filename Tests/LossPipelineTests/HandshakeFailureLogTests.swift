import Logging
import LossPipeline
import Synchronization
import Testing
import ZeroMQ

@Suite("Handshake failure log")
struct HandshakeFailureLogTests {
    /// A log handler that keeps every message with its level.
    final class Recorder: LogHandler, @unchecked Sendable {
        let lines = Mutex<[(Logger.Level, String)]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let extra = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            lines.withLock { $0.append((event.level, "\(event.message) \(extra.joined(separator: " "))")) }
        }

        var warnings: [String] { lines.withLock { $0.filter { $0.0 == .warning }.map(\.1) } }
    }

    private func log(
        role: HandshakeFailureLog.Role, security: SocketSecurity, socket: String = "sidecar.input",
        clientKeySetting: String? = nil
    ) -> (HandshakeFailureLog, Recorder) {
        let recorder = Recorder()
        let logger = Logger(label: "test") { _ in recorder }
        let log =
            clientKeySetting.map {
                HandshakeFailureLog(
                    socket: socket, role: role, security: security, logger: logger, clientKeySetting: $0)
            } ?? HandshakeFailureLog(socket: socket, role: role, security: security, logger: logger)
        return (log, recorder)
    }

    @Test("the hint names where the client takes the server's key: a watcher for the publish socket")
    func hintNamesTheClient() throws {
        let pair = try CurveKeyPair.generate()
        let mismatch = HandshakeFailure(
            reason: .mechanismMismatch, side: .accepted, endpoint: "tcp://127.0.0.1:5557", peer: "10.0.0.7:41000")
        let (publish, publishRecorder) = log(
            role: .server, security: .curveServer(pair, allowedClients: nil), socket: "aggregate.publish",
            clientKeySetting: "DivergenceWatcher(curve_server_key=…)")
        publish.record(mismatch)
        #expect(publishRecorder.warnings.first?.contains("DivergenceWatcher(curve_server_key=…)") == true)
        #expect(publishRecorder.warnings.first?.contains("LossClient") == false)
        let (input, inputRecorder) = log(role: .server, security: .curveServer(pair, allowedClients: nil))
        input.record(mismatch)
        #expect(inputRecorder.warnings.first?.contains("LossClient(curve_server_key=…), --output-server-key") == true)
    }

    @Test("a server names the peer and the cause, counts by reason, and logs one failure per period in full")
    func server() throws {
        let pair = try CurveKeyPair.generate()
        let (log, recorder) = log(role: .server, security: .curveServer(pair, allowedClients: nil))
        let mismatch = HandshakeFailure(
            reason: .mechanismMismatch, side: .accepted, endpoint: "tcp://127.0.0.1:5555", peer: "10.0.0.7:41000")
        for _ in 0..<5 { log.record(mismatch) }
        log.record(
            HandshakeFailure(
                reason: .cryptographic, side: .accepted, endpoint: "tcp://127.0.0.1:5555", peer: "10.0.0.8:1"))
        // A port probe (reset) is not a failure worth a warning, a client that hung up (orderly close)
        // is; a refusal is counted from the ZAP decision.
        log.record(HandshakeFailure(reason: .closed(errno: 104), side: .accepted, endpoint: "x", peer: "10.0.0.9:2"))
        log.record(HandshakeFailure(reason: .closed(errno: 32), side: .accepted, endpoint: "x", peer: "10.0.0.9:3"))
        log.record(HandshakeFailure(reason: .refused(statusCode: 400), side: .unknown, endpoint: "x", peer: nil))
        log.record(
            CurveAuthenticator.Decision(
                domain: "sidecar.input", address: "10.0.0.6", mechanism: "CURVE", clientKey: pair.publicKey,
                accepted: false))
        #expect(log.counts == [.mechanism: 5, .serverKey: 1, .clientKey: 1, .closed: 1, .protocol: 0])
        #expect(log.total == 8)
        let warnings = recorder.warnings
        #expect(warnings.count == 2)  // the first mismatch, and the first hang-up of its host
        #expect(warnings.first?.contains("a plain client at 10.0.0.7:41000 failed the handshake") == true)
        #expect(warnings.first?.contains("sidecar.input requires CURVE") == true)
        #expect(warnings.last?.contains("a client at 10.0.0.9:3 hung up during the handshake") == true)
        log.flush()
        #expect(recorder.warnings.last?.contains("6 more handshake failures on sidecar.input") == true)
        #expect(recorder.warnings.last?.contains("mechanism=5") == true)
    }

    @Test("a client that hangs up is counted every time and warned about once per host and period")
    func hangUps() {
        let (log, recorder) = log(role: .server, security: .plain)
        for port in 1...3 {
            log.record(
                HandshakeFailure(reason: .closed(errno: 32), side: .accepted, endpoint: "x", peer: "10.0.0.5:\(port)"))
        }
        log.record(HandshakeFailure(reason: .closed(errno: 32), side: .accepted, endpoint: "x", peer: "10.0.0.6:1"))
        log.record(HandshakeFailure(reason: .closed(errno: 104), side: .accepted, endpoint: "x", peer: "10.0.0.7:1"))
        #expect(log.counts[.closed] == 4)
        let warnings = recorder.warnings
        #expect(warnings.count == 2)
        #expect(
            warnings.first?.contains("a client at 10.0.0.5:1 hung up during the handshake: it probably uses CURVE")
                == true)
        #expect(warnings.first?.contains("(or it only probed the port)") == true)
        #expect(warnings.last?.contains("10.0.0.6:1") == true)
    }

    @Test("a failure without an address does not use up the period of those with one")
    func unknownPeer() {
        let (log, recorder) = log(role: .server, security: .plain)
        log.record(HandshakeFailure(reason: .mechanismMismatch, side: .accepted, endpoint: "x", peer: nil))
        log.record(HandshakeFailure(reason: .mechanismMismatch, side: .accepted, endpoint: "x", peer: nil))
        log.record(HandshakeFailure(reason: .mechanismMismatch, side: .accepted, endpoint: "x", peer: "10.0.0.7:9"))
        let warnings = recorder.warnings.filter { $0.contains("handshake failed:") }
        #expect(warnings.count == 2)
        #expect(warnings.first?.contains("a CURVE client at an address that could not be read") == true)
        #expect(
            warnings.last?.contains("a CURVE client at 10.0.0.7:9 failed the handshake: sidecar.input is plain") == true
        )
    }

    @Test("a client counts a server that hangs up, and names the likely cause")
    func client() throws {
        let pair = try CurveKeyPair.generate()
        let (log, recorder) = log(
            role: .client, security: .curveClient(pair, serverKey: pair.publicKey), socket: "sidecar.output")
        log.record(
            HandshakeFailure(
                reason: .closed(errno: 32), side: .connected, endpoint: "tcp://10.0.0.10:5556",
                peer: "tcp://10.0.0.10:5556"))
        #expect(log.counts[.closed] == 1)
        let warning = try #require(recorder.warnings.first)
        #expect(warning.contains("the server at tcp://10.0.0.10:5556 closed the connection during the handshake"))
        #expect(warning.contains("--output-server-key is not its public key"))
    }
}

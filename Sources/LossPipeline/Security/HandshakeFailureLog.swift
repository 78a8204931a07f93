public import Logging
import Synchronization
public import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a handshake failed, as lossd counts it: the `reason` label of
/// `lossd_handshake_failures_total`.
public enum HandshakeFailureReason: String, CaseIterable, Sendable, Hashable {
    /// One end uses CURVE and the other does not.
    case mechanism
    /// The client was given another public key than the server's.
    case serverKey = "server_key"
    /// The server does not allow the client's public key.
    case clientKey = "client_key"
    /// The peer closed the connection during the handshake. A client counts every such close; a
    /// server counts an orderly close (the client read the server's greeting, then hung up: it
    /// found the mismatch first) and logs a reset (a port probe that read nothing) at debug level.
    case closed
    /// Another ZMTP or ZAP protocol error.
    case `protocol`
}

/// Counts and logs the handshakes that fail on one socket, without flooding the log.
///
/// It takes what the socket's ``HandshakeMonitor`` reports and, for a CURVE server, the refusals
/// of the process's ``CurveAuthenticator`` (which know the client's key). Each failure is counted
/// by reason; the first of every period (10 s) is logged at warning level with the peer's address,
/// the reason and the likely fix, and the others are summed up in one line when the next period's
/// first failure is logged, or by ``flush()`` (each is logged at debug level too). A failure whose
/// peer address could not be read (the connection was gone before the monitor saw it) does not
/// use up its period: the next one with an address is logged in full too.
///
/// A client that hangs up during a server's handshake is ambiguous: a client that found a CURVE
/// mismatch before the server did, or a port probe (a TCP health check) that closed gracefully.
/// It is counted (``HandshakeFailureReason/closed``) but warned about once per peer host per
/// hour only; a probe that resets its connection is logged at debug level and not counted.
public final class HandshakeFailureLog: Sendable {
    /// Which end of its connections the socket is, in the CURVE handshake.
    public enum Role: Sendable, Hashable {
        /// The socket binds and accepts (lossd's inputs).
        case server
        /// The socket connects (the sidecar's output).
        case client
    }

    /// The socket's setting name (`sidecar.input`, `sidecar.output`, `aggregate.input`,
    /// `serve.records_input`): the `socket` label of the metric, and the ZAP domain of a server.
    public let socket: String
    /// The socket's role.
    public let role: Role
    /// The socket's security, for naming the likely cause.
    public let security: SocketSecurity
    private let logger: Logger
    private let period: Duration
    private let hangUpPeriod: Duration
    /// Where this socket's clients are given its public key, for the hints of a CURVE server.
    private let clientKeySetting: String
    private let state = Mutex(State())

    private struct State {
        var counts: [HandshakeFailureReason: Int] = [:]
        /// When the current period started, for failures with a peer address (true) and without.
        var periodStart: [Bool: ContinuousClock.Instant] = [:]
        var suppressed = 0
        /// When a hang-up of each peer host was last warned about (at most 1024 hosts remembered).
        var hangUpsWarned: [String: ContinuousClock.Instant] = [:]
    }

    /// A log for `socket`.
    ///
    /// - Parameters:
    ///   - period: At most one failure per period is logged in full.
    ///   - hangUpPeriod: At most one hang-up during a server's handshake per peer host and period
    ///     is logged at warning level.
    ///   - clientKeySetting: Where a client of this server is given its public key, named in the
    ///     hints (trainers and sidecars by default; the publish socket's subscribers are watchers).
    public init(
        socket: String, role: Role, security: SocketSecurity, logger: Logger, period: Duration = .seconds(10),
        hangUpPeriod: Duration = .seconds(3600),
        clientKeySetting: String = "LossClient(curve_server_key=…), --output-server-key"
    ) {
        self.socket = socket
        self.role = role
        self.security = security
        self.logger = logger
        self.period = period
        self.hangUpPeriod = hangUpPeriod
        self.clientKeySetting = clientKeySetting
    }

    /// The reasons this socket counts, in the order metrics list them.
    public var reasons: [HandshakeFailureReason] { HandshakeFailureReason.allCases }

    /// The failures counted so far, by reason (every reason of ``reasons``, zeros included).
    public var counts: [HandshakeFailureReason: Int] {
        let counted = state.withLock { $0.counts }
        return Dictionary(uniqueKeysWithValues: reasons.map { ($0, counted[$0] ?? 0) })
    }

    /// The failures counted so far.
    public var total: Int { state.withLock { $0.counts.values.reduce(0, +) } }

    /// Notes a failure the socket's monitor reported.
    public func record(_ failure: HandshakeFailure) {
        let asServer = failure.side == .accepted || (failure.side == .unknown && role == .server)
        let peer = failure.peer ?? (asServer ? "an address that could not be read" : failure.endpoint)
        let reason: HandshakeFailureReason
        let sentence: String
        let hint: String
        switch (asServer, failure.reason) {
        case (true, .refused):
            return  // the authenticator's decision, which names the key, is recorded instead
        case (true, .closed(let code)) where code != EPIPE:
            logger.debug(
                "a connection to \(socket) closed before its handshake completed",
                metadata: ["peer": "\(peer)", "errno": "\(code)"])
            return
        case (true, .closed):
            let sentence =
                security.usesCurve
                ? "a client at \(peer) hung up during the handshake: it is probably plain, and \(socket) requires CURVE"
                : "a client at \(peer) hung up during the handshake: it probably uses CURVE, and \(socket) is plain"
            let hint =
                security.usesCurve
                ? "give the client this socket's public key (\(clientKeySetting))"
                : "give \(socket) a key pair (\(flag("key-file"))), or make the client plain"
            countHangUp(
                host: failure.peer.map(Self.host(of:)), sentence: sentence + " (or it only probed the port)",
                metadata: ["peer": "\(peer)", "reason": "closed", "hint": "\(hint)"])
            return
        case (true, .mechanismMismatch):
            reason = .mechanism
            if security.usesCurve {
                sentence = "a plain client at \(peer) failed the handshake: \(socket) requires CURVE"
                hint = "give the client this socket's public key (\(clientKeySetting))"
            } else {
                sentence = "a CURVE client at \(peer) failed the handshake: \(socket) is plain"
                hint = "give \(socket) a key pair (\(flag("key-file"))), or make the client plain"
            }
        case (true, .cryptographic):
            reason = .serverKey
            sentence = "a CURVE client at \(peer) failed the handshake: it does not know \(socket)'s public key"
            hint = "the client's server key must be \(publicKey ?? "this socket's public key") (\(socket)'s .pub file)"
        case (false, .mechanismMismatch):
            reason = .mechanism
            if security.usesCurve {
                sentence = "the handshake with \(peer) failed: the server is plain and \(socket) uses CURVE"
                hint = "give the server a key pair, or drop \(flag("server-key"))"
            } else {
                sentence = "the handshake with \(peer) failed: the server requires CURVE and \(socket) is plain"
                hint = "set \(flag("server-key")) to the server's public key and \(flag("key-file")) to this key pair"
            }
        case (false, .closed):
            reason = .closed
            sentence = "the server at \(peer) closed the connection during the handshake"
            hint =
                security.usesCurve
                ? "the server is plain, or \(flag("server-key")) is not its public key"
                : "the server may require CURVE: set \(flag("server-key")) and \(flag("key-file"))"
        case (false, .refused(let status)):
            reason = .clientKey
            sentence = "the server at \(peer) refused \(socket)'s CURVE key (ZAP status \(status))"
            hint = "add \(publicKey ?? "this key") (its .pub file) to the server's allowed clients"
        case (_, .cryptographic):
            reason = .serverKey
            sentence = "the handshake with \(peer) failed: a CURVE box could not be opened"
            hint = "check that both ends use the public keys of each other's key files"
        case (_, .protocolError(let code)):
            reason = .protocol
            sentence = "the handshake with \(peer) failed: protocol error 0x\(String(code, radix: 16))"
            hint = "is the peer a ZeroMQ program speaking ZMTP 3?"
        case (_, .refused(let status)):
            reason = .clientKey
            sentence = "the ZAP handler refused \(peer) (status \(status))"
            hint = "add the client's public key to \(socket)'s allowed clients"
        }
        count(
            reason, sentence: sentence, knownPeer: failure.peer != nil,
            metadata: ["peer": "\(peer)", "reason": "\(reason.rawValue)", "hint": "\(hint)"])
    }

    /// Notes a decision of the process's ZAP handler about a client of this (server) socket; only
    /// refusals count.
    public func record(_ decision: CurveAuthenticator.Decision) {
        guard !decision.accepted else {
            logger.debug(
                "accepted a CURVE client",
                metadata: ["address": "\(decision.address)", "client_key": "\(decision.clientKey)"])
            return
        }
        if decision.mechanism != "CURVE" {
            count(
                .mechanism, sentence: "a plain client at \(decision.address) was refused: \(socket) requires CURVE",
                knownPeer: true, metadata: ["peer": "\(decision.address)", "reason": "mechanism"])
            return
        }
        count(
            .clientKey,
            sentence: "refused a client whose CURVE key is not allowed on \(socket), at \(decision.address)",
            knownPeer: true,
            metadata: [
                "peer": "\(decision.address)", "client_key": "\(decision.clientKey)", "reason": "client_key",
                "hint": "add the client's .pub file to \(flag("allowed-clients")) if it should send",
            ])
    }

    /// Counts a client's hang-up during the handshake, and warns about it once per host and
    /// ``hangUpPeriod`` (a health checker probes the same port again and again).
    private func countHangUp(host: String?, sentence: String, metadata: Logger.Metadata) {
        let now = ContinuousClock.now
        let period = hangUpPeriod
        let key = host ?? ""
        let warn = state.withLock { state -> Bool in
            state.counts[.closed, default: 0] += 1
            if let last = state.hangUpsWarned[key], last.duration(to: now) < period { return false }
            if state.hangUpsWarned.count >= 1024, let oldest = state.hangUpsWarned.min(by: { $0.value < $1.value }) {
                state.hangUpsWarned.removeValue(forKey: oldest.key)
            }
            state.hangUpsWarned[key] = now
            return true
        }
        var metadata = metadata
        metadata["socket"] = "\(socket)"
        if warn {
            logger.warning("handshake failed: \(sentence)", metadata: metadata)
        } else {
            logger.debug("handshake failed: \(sentence)", metadata: metadata)
        }
    }

    /// The host part of `host:port` or `[host]:port`.
    static func host(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        var host = address[..<colon]
        if host.first == "[" && host.last == "]" { host = host.dropFirst().dropLast() }
        return String(host)
    }

    /// Logs how many failures were not logged one by one, if any.
    public func flush() {
        let suppressed = state.withLock { state in
            defer { state.suppressed = 0 }
            return state.suppressed
        }
        logSuppressed(suppressed)
    }

    /// Counts one failure and logs it if this period has not logged one yet.
    private func count(
        _ reason: HandshakeFailureReason, sentence: String, knownPeer: Bool, metadata: Logger.Metadata
    ) {
        let now = ContinuousClock.now
        let period = self.period
        let (log, suppressed) = state.withLock { state -> (Bool, Int) in
            state.counts[reason, default: 0] += 1
            if let start = state.periodStart[knownPeer], start.duration(to: now) < period {
                state.suppressed += 1
                return (false, 0)
            }
            state.periodStart[knownPeer] = now
            defer { state.suppressed = 0 }
            return (true, state.suppressed)
        }
        var metadata = metadata
        metadata["socket"] = "\(socket)"
        guard log else {
            logger.debug("handshake failed: \(sentence)", metadata: metadata)
            return
        }
        logSuppressed(suppressed)
        logger.warning("handshake failed: \(sentence)", metadata: metadata)
    }

    private func logSuppressed(_ suppressed: Int) {
        guard suppressed > 0 else { return }
        let counts = self.counts.filter { $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
        logger.warning(
            "\(suppressed) more handshake failures on \(socket)",
            metadata: [
                "socket": "\(socket)", "period_seconds": "\(period.components.seconds)",
                "totals": "\(counts.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " "))",
            ])
    }

    /// This socket's public key, if it has a key pair.
    private var publicKey: String? {
        switch security {
        case .plain: nil
        case .curveServer(let pair, _), .curveClient(let pair, _): pair.publicKey
        }
    }

    /// The flag of one of this socket's settings: `sidecar.input` and `key-file` give
    /// `--input-key-file`.
    private func flag(_ setting: String) -> String {
        let name = socket.split(separator: ".").last.map(String.init) ?? socket
        return "--" + name.replacingUnderscores + "-" + setting
    }
}

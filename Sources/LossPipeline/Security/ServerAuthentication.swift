public import Logging
public import ZeroMQ

/// The ZAP handler of the CURVE server sockets of one context.
public enum ServerAuthentication {
    /// Starts a ``CurveAuthenticator`` in `context` for the CURVE servers among `sockets` (their
    /// ZAP domain is the log's socket name), reporting its refusals to each socket's log; nil when
    /// none of them is a CURVE server. Start it before the sockets bind and stop it after they close.
    public static func start(
        context: Context, sockets: [HandshakeFailureLog]
    ) throws(ZeroMQError) -> CurveAuthenticator? {
        var domains: [String: Set<String>?] = [:]
        var logs: [String: HandshakeFailureLog] = [:]
        for log in sockets {
            guard case .curveServer(_, let allowed) = log.security else { continue }
            domains[log.socket] = .some(allowed)
            logs[log.socket] = log
        }
        guard !domains.isEmpty else { return nil }
        let byDomain = logs
        return try CurveAuthenticator(context: context, domains: domains) { decision in
            byDomain[decision.domain]?.record(decision)
        }
    }
}

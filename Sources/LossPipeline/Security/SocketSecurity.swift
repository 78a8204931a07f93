public import ZeroMQ

/// How one socket authenticates its peers and encrypts its traffic: plain, a CURVE server, or a
/// CURVE client.
///
/// The role in the CURVE handshake is independent of the socket's pattern and of which end binds:
/// lossd's inputs (PULL, binding) are servers and the sidecar's output (PUSH, connecting) is a
/// client, but a ROUTER that binds and a DEALER that connects take the same settings.
public enum SocketSecurity: Sendable, Hashable, CustomStringConvertible {
    /// No CURVE: neither encrypted nor authenticated. A CURVE peer fails the handshake.
    case plain
    /// A CURVE server with this key pair. `allowedClients` are the client public keys (Z85) let
    /// in; nil lets in every client that knows the server's public key (encrypted, not
    /// authenticated). A plain peer fails the handshake.
    case curveServer(CurveKeyPair, allowedClients: Set<String>?)
    /// A CURVE client with this key pair, trusting only the server whose public key is `serverKey`.
    case curveClient(CurveKeyPair, serverKey: String)

    /// The socket options that give a socket this security. A server's ZAP domain names the
    /// socket to the process's ``CurveAuthenticator``, which applies its allowed clients.
    public func socketOptions(zapDomain: String) -> [SocketOption] {
        switch self {
        case .plain: []
        case .curveServer(let pair, _): pair.serverOptions + [.zapDomain(zapDomain)]
        case .curveClient(let pair, let serverKey): pair.clientOptions(serverKey: serverKey)
        }
    }

    /// Whether the socket uses CURVE.
    public var usesCurve: Bool { self != .plain }

    /// The allowed clients of a CURVE server (nil: any client that knows its key); nil otherwise.
    public var allowedClients: Set<String>? {
        if case .curveServer(_, let allowed) = self { return allowed }
        return nil
    }

    /// What a start-up line says: `plain`, `CURVE server (key …, 2 allowed clients)`,
    /// `CURVE client (key …, server key …)`. Keys are shortened to their first 8 characters.
    public var description: String {
        func short(_ key: String) -> String { String(key.prefix(8)) + "…" }
        switch self {
        case .plain:
            return "plain"
        case .curveServer(let pair, let allowed):
            let clients =
                allowed.map { "\($0.count) allowed client\($0.count == 1 ? "" : "s")" }
                ?? "any client that knows its key"
            return "CURVE server (key \(short(pair.publicKey)), \(clients))"
        case .curveClient(let pair, let serverKey):
            return "CURVE client (key \(short(pair.publicKey)), server key \(short(serverKey)))"
        }
    }
}

public import Logging
public import ZeroMQ

/// Which CURVE keys a process uses and trusts (`curve.*`, `sidecar.output_server_key`).
///
/// With a key pair, the process's server sockets (the sidecar's and the aggregator's inputs)
/// require CURVE; with an allowed-client list as well, only those clients get in. A client
/// socket (the sidecar's output) uses CURVE when it is given the server's public key.
public struct CurveSettings: Sendable, Hashable {
    /// This process's key pair, or nil for plain (unencrypted) sockets.
    public var keyPair: CurveKeyPair?
    /// The client public keys a server accepts; nil accepts any client that knows its key.
    public var allowedClients: Set<String>?

    /// No CURVE at all.
    public init(keyPair: CurveKeyPair? = nil, allowedClients: Set<String>? = nil) {
        self.keyPair = keyPair
        self.allowedClients = allowedClients
    }

    /// Reads `curve.key_file` and `curve.allowed_clients` (a comma-separated list of Z85 keys or
    /// paths of `.pub`/`.key` files).
    public init(reading settings: SettingsReader) throws(SettingsError) {
        let keyFile = try settings.string("curve.key_file", default: nil).flatMap { $0.isEmpty ? nil : $0 }
        do {
            keyPair = try keyFile.map { path throws(SecurityError) in try KeyFile.readPair(path) }
        } catch {
            throw .invalid(key: "curve.key_file", value: keyFile ?? "", reason: "\(error)")
        }
        let list = try settings.string("curve.allowed_clients", default: nil) ?? ""
        let items = list.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
        if items.isEmpty {
            allowedClients = nil
        } else {
            var keys = Set<String>()
            for item in items {
                do {
                    keys.insert(try KeyFile.publicKey(item))
                } catch {
                    throw .invalid(key: "curve.allowed_clients", value: item, reason: "\(error)")
                }
            }
            guard keyPair != nil else {
                throw .invalid(
                    key: "curve.allowed_clients", value: list,
                    reason: "allowed clients need this process's own key pair: set curve.key_file too")
            }
            allowedClients = keys
        }
    }

    /// The options of a server socket: CURVE with this pair and the `lossd` ZAP domain, or none.
    public var serverOptions: [SocketOption] {
        guard let keyPair else { return [] }
        return keyPair.serverOptions + [.zapDomain("lossd")]
    }

    /// Starts the ZAP handler of `context` when this process has a key pair (nil otherwise):
    /// allowed clients in, others refused and logged. Stop it after closing the server sockets.
    public func startAuthenticator(context: Context, logger: Logger) throws(ZeroMQError) -> CurveAuthenticator? {
        guard keyPair != nil else { return nil }
        return try CurveAuthenticator(context: context, allowedClientKeys: allowedClients) { address, key, accepted in
            if accepted {
                logger.debug("accepted a CURVE client", metadata: ["address": "\(address)", "client_key": "\(key)"])
            } else {
                logger.warning(
                    "refused a client whose CURVE key is not allowed",
                    metadata: ["address": "\(address)", "client_key": "\(key)"])
            }
        }
    }
}

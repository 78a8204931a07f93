import ZeroMQ

extension SocketSecurity {
    /// The settings of a server socket named `socket` (`sidecar.input`, `aggregate.input`,
    /// `serve.records_input`): `<socket>_key_file` and `<socket>_allowed_clients`.
    ///
    /// Each falls back on the process-wide `curve.key_file` and `curve.allowed_clients`, the short
    /// way to say "CURVE on every socket". Without a key file the socket is plain; allowed clients
    /// without a key file are refused, since a plain socket could not apply them.
    public init(server socket: String, reading settings: SettingsReader) throws(SettingsError) {
        let keyKey = socket + "_key_file"
        let allowedKey = socket + "_allowed_clients"
        let (_, pair) = try Self.keyPair(settings, keys: [keyKey, "curve.key_file"])
        let (listKey, allowed) = try Self.publicKeys(settings, keys: [allowedKey, "curve.allowed_clients"])
        guard let pair else {
            if let listKey {
                throw .invalid(
                    key: listKey, value: try settings.string(listKey, default: nil) ?? "",
                    reason: "allowed clients need the socket's own key pair: set \(keyKey) (or curve.key_file) too")
            }
            self = .plain
            return
        }
        self = .curveServer(pair, allowedClients: allowed)
    }

    /// The settings of a client socket named `socket` (`sidecar.output`): `<socket>_server_key`
    /// (the server's public key, or a `.pub` file) and `<socket>_key_file`, which falls back on
    /// `curve.key_file`.
    ///
    /// Without a server key the socket is plain, whatever key file is set; a server key without
    /// any key file, or the socket's own key file without a server key, is refused.
    public init(client socket: String, reading settings: SettingsReader) throws(SettingsError) {
        let keyKey = socket + "_key_file"
        let serverKeyKey = socket + "_server_key"
        let (pairKey, pair) = try Self.keyPair(settings, keys: [keyKey, "curve.key_file"])
        let serverText = try Self.text(settings, serverKeyKey)
        guard let serverText else {
            if pairKey == keyKey {
                throw .invalid(
                    key: keyKey, value: try settings.string(keyKey, default: nil) ?? "",
                    reason: "a CURVE client needs the server's public key: set \(serverKeyKey) too")
            }
            self = .plain
            return
        }
        let serverKey: String
        do {
            serverKey = try KeyFile.publicKey(serverText)
        } catch {
            throw .invalid(key: serverKeyKey, value: serverText, reason: "\(error)")
        }
        guard let pair else {
            throw .invalid(
                key: serverKeyKey, value: serverText,
                reason: "a CURVE client needs its own key pair: set \(keyKey) (or curve.key_file) too")
        }
        self = .curveClient(pair, serverKey: serverKey)
    }

    /// The first of `keys` that is set (and not empty), read as a key pair file.
    private static func keyPair(
        _ settings: SettingsReader, keys: [String]
    ) throws(SettingsError) -> (String?, CurveKeyPair?) {
        for key in keys {
            guard let path = try text(settings, key) else { continue }
            do {
                return (key, try KeyFile.readPair(path))
            } catch {
                throw .invalid(key: key, value: path, reason: "\(error)")
            }
        }
        return (nil, nil)
    }

    /// The first of `keys` that is set (and not empty), read as a comma-separated list of Z85
    /// public keys or paths of `.pub`/`.key` files.
    private static func publicKeys(
        _ settings: SettingsReader, keys: [String]
    ) throws(SettingsError) -> (String?, Set<String>?) {
        for key in keys {
            guard let list = try text(settings, key) else { continue }
            let items = list.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty }
            guard !items.isEmpty else { continue }
            var publicKeys = Set<String>()
            for item in items {
                do {
                    publicKeys.insert(try KeyFile.publicKey(item))
                } catch {
                    throw .invalid(key: key, value: item, reason: "\(error)")
                }
            }
            return (key, publicKeys)
        }
        return (nil, nil)
    }

    /// A text setting, or nil when it is absent or empty.
    private static func text(_ settings: SettingsReader, _ key: String) throws(SettingsError) -> String? {
        guard let value = try settings.string(key, default: nil)?.trimmingWhitespace, !value.isEmpty else {
            return nil
        }
        return value
    }
}

import ArgumentParser
import Configuration

/// `--key-file` and `--allowed-clients` (`curve.*`): CURVE for a process's server sockets.
struct CurveOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "This process's CURVE key pair (a .key file from lossd keygen): the input then requires CURVE.",
            discussion:
                """
                Without --allowed-clients, any client that knows this process's public key may connect (encrypted, \
                not authenticated).
                """
        ))
    var keyFile: String?

    @Option(help: "Client public keys allowed in: comma-separated Z85 keys or .pub files (needs --key-file).")
    var allowedClients: String?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let keyFile { values["curve.key_file"] = .string(keyFile) }
        if let allowedClients { values["curve.allowed_clients"] = .string(allowedClients) }
        return values
    }
}

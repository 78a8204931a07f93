import ArgumentParser
import Configuration

/// `--key-file` and `--allowed-clients` (`curve.*`): the short way to say "CURVE on every socket".
///
/// Each socket also has settings of its own (``InputCurveOptions``, ``OutputCurveOptions``,
/// ``RecordsInputCurveOptions``), which win over these.
struct CurveOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "This process's CURVE key pair for all sockets (a .key file, lossd keygen): every input requires CURVE.",
            discussion:
                """
                The aggregator's --publish socket requires it too. A sidecar's output uses it once \
                --output-server-key names the sink. To encrypt one socket only, use its own flag instead \
                (--input-key-file, --output-key-file, --publish-key-file; docs/SECURITY.md).
                """
        ))
    var keyFile: String?

    @Option(
        help: """
            Client public keys every input (and --publish) lets in: comma-separated Z85 keys or .pub files \
            (default: any client that knows the socket's key).
            """)
    var allowedClients: String?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let keyFile { values["curve.key_file"] = .string(keyFile) }
        if let allowedClients { values["curve.allowed_clients"] = .string(allowedClients) }
        return values
    }
}

/// `--input-key-file` and `--input-allowed-clients`: CURVE on the input alone (`sidecar.input_*`
/// or `aggregate.input_*`, as the command says).
struct InputCurveOptions: ParsableArguments {
    @Option(help: "The input's CURVE key pair (a .key file): the input then requires CURVE; the output is unchanged.")
    var inputKeyFile: String?

    @Option(help: "Client public keys the input lets in: comma-separated Z85 keys or .pub files.")
    var inputAllowedClients: String?

    /// The flags given, by settings key, for the input named `socket` (`sidecar.input`).
    func flagValues(socket: String) -> [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let inputKeyFile { values[socket + "_key_file"] = .string(inputKeyFile) }
        if let inputAllowedClients { values[socket + "_allowed_clients"] = .string(inputAllowedClients) }
        return values
    }
}

/// `--output-key-file` and `--output-server-key` (`sidecar.output_*`): CURVE on the sidecar's
/// output alone.
struct OutputCurveOptions: ParsableArguments {
    @Option(
        help:
            "The sink's CURVE public key (or its .pub file): the output then uses CURVE, with --output-key-file's pair."
    )
    var outputServerKey: String?

    @Option(
        help: "The output's own CURVE key pair (a .key file), which the sink must allow; needs --output-server-key.")
    var outputKeyFile: String?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let outputServerKey { values["sidecar.output_server_key"] = .string(outputServerKey) }
        if let outputKeyFile { values["sidecar.output_key_file"] = .string(outputKeyFile) }
        return values
    }
}

/// `--records-input-key-file` and `--records-input-allowed-clients` (`serve.records_input_*`):
/// CURVE on the records input of `lossd serve`.
struct RecordsInputCurveOptions: ParsableArguments {
    @Option(help: "The records input's CURVE key pair (a .key file): sidecars on other hosts then need CURVE.")
    var recordsInputKeyFile: String?

    @Option(help: "Sidecar public keys the records input lets in: comma-separated Z85 keys or .pub files.")
    var recordsInputAllowedClients: String?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let recordsInputKeyFile { values["serve.records_input_key_file"] = .string(recordsInputKeyFile) }
        if let recordsInputAllowedClients {
            values["serve.records_input_allowed_clients"] = .string(recordsInputAllowedClients)
        }
        return values
    }
}

/// `--publish-key-file` and `--publish-allowed-clients` (`aggregate.publish_*`): CURVE on the
/// aggregator's publish socket, for the subscribers that watch for divergence.
struct PublishCurveOptions: ParsableArguments {
    @Option(
        help: "The publish socket's CURVE key pair (a .key file): subscribers then need its public key and CURVE.")
    var publishKeyFile: String?

    @Option(help: "Subscriber public keys the publish socket lets in: comma-separated Z85 keys or .pub files.")
    var publishAllowedClients: String?

    /// The flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let publishKeyFile { values["aggregate.publish_key_file"] = .string(publishKeyFile) }
        if let publishAllowedClients { values["aggregate.publish_allowed_clients"] = .string(publishAllowedClients) }
        return values
    }
}

/// A setting that cannot be used, named so that a person can find and fix it.
public enum SettingsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A value of the wrong type or out of range.
    case invalid(key: String, value: String, reason: String)
    /// The configuration file could not be read or parsed.
    case unreadableFile(path: String, reason: String)

    /// A sentence saying what failed and what to change.
    public var description: String {
        switch self {
        case .invalid(let key, let value, let reason):
            """
            invalid setting \(key) = '\(value)': \(reason). Set it with \
            --\(key.split(separator: ".").last.map(String.init)?.replacingUnderscores ?? key), 
            """
                + """
                the environment variable \(SettingsError.environmentName(of: key)), or the key \(key) in the \
                --config file.
                """
        case .unreadableFile(let path, let reason):
            "cannot read the configuration file \(path): \(reason)"
        }
    }

    /// The environment variable that sets `key` (`sidecar.workers` → `LOSSD_SIDECAR_WORKERS`).
    public static func environmentName(of key: String) -> String {
        "LOSSD_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}

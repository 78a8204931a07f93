/// A web configuration file (`aggregate.web_config`) that cannot be used: it names the file, the
/// key and what to change.
public enum WebConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file does not exist, cannot be read, or is not YAML.
    case unreadable(path: String, reason: String)
    /// A key holds a value lossd cannot use, or is one lossd does not know or support.
    case invalid(path: String, key: String, reason: String)

    /// A sentence saying what is wrong and what to do.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read the web configuration file \(path): \(reason)"
        case .invalid(let path, let key, let reason):
            "the web configuration file \(path), key \(key): \(reason) (docs/SECURITY.md shows a complete file)"
        }
    }
}

/// Why a state file could not be used.
public enum AggregatorStateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file exists but is not a lossd aggregate state: truncated, not JSON, another format.
    /// The daemon moves it aside and starts fresh.
    case damaged(reason: String)
    /// The file could not be read, or a new one could not be written.
    case io(path: String, operation: String, reason: String)

    /// A sentence saying what went wrong and what to do.
    public var description: String {
        switch self {
        case .damaged(let reason):
            "the state file is damaged: \(reason)"
        case .io(let path, let operation, let reason):
            """
            cannot \(operation) the state file \(path): \(reason). Check that its folder exists and is writable, or \
            choose another path with --state.
            """
        }
    }
}

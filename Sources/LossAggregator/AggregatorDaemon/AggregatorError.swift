import LossPipeline

/// A failure to start the aggregation daemon.
public enum AggregatorError: Error, CustomStringConvertible, Sendable {
    /// The input endpoints could not be bound or connected.
    case input(endpoints: String, reason: String)
    /// The snapshots file or the publish socket could not be opened.
    case output(reason: String)
    /// The HTTP server could not listen, or failed.
    case http(address: String, reason: String)

    /// A sentence saying what failed and which setting to change.
    public var description: String {
        switch self {
        case .input(let endpoints, let reason):
            InputFailure.sentence(endpoints: endpoints, reason: reason, variable: "LOSSD_AGGREGATE_INPUT")
        case .output(let reason):
            reason
        case .http(let address, let reason):
            """
            cannot serve HTTP on \(address): \(reason). Choose another address with --http or LOSSD_AGGREGATE_HTTP \
            (port 0 picks a free one).
            """
        }
    }
}

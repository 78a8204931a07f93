/// A failure to start the aggregation daemon.
public enum AggregatorError: Error, CustomStringConvertible, Sendable {
    /// The input endpoints could not be bound or connected.
    case input(endpoints: String, reason: String)
    /// The snapshots file or the publish socket could not be opened.
    case output(reason: String)

    /// A sentence saying what failed and which setting to change.
    public var description: String {
        switch self {
        case .input(let endpoints, let reason):
            "cannot open the input \(endpoints): \(reason). Choose another endpoint with --input or LOSSD_AGGREGATE_INPUT."
        case .output(let reason):
            reason
        }
    }
}

/// The sentence of a daemon's input that could not be bound or connected.
///
/// The sidecar and the aggregator both bind their inputs from `--input`; one sentence says what
/// failed and which setting to change, so that both read the same.
public enum InputFailure {
    /// "cannot open the input `endpoints`: `reason`. Choose another endpoint with --input or
    /// `variable`."
    public static func sentence(endpoints: String, reason: String, variable: String) -> String {
        "cannot open the input \(endpoints): \(reason). Choose another endpoint with --input or \(variable)."
    }
}

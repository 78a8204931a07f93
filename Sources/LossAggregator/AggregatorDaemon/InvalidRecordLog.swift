import Logging

/// Logs invalid records without flooding: the first of every period in full, then one line with
/// how many more there were.
struct InvalidRecordLog {
    /// How long one period lasts, in seconds.
    let period: Double
    private var periodStart = -Double.infinity
    private var suppressed = 0

    /// A log that reports at most one invalid record per `period` seconds.
    init(period: Double = 10) {
        self.period = period
    }

    /// Notes one invalid record that arrived at `time`, logging it if the period allows.
    mutating func note(_ reason: String, at time: Double, logger: Logger) {
        if time - periodStart < period {
            suppressed += 1
            return
        }
        flush(logger: logger)
        periodStart = time
        logger.warning(
            "ignoring a message that is not a v1 record: \(reason)",
            metadata: [
                "hint":
                    """
                the aggregator's input takes the records a lossd sidecar sends (docs/PROTOCOL.md §2); further \
                invalid messages are summarized every \(Int(period)) s
                """
            ])
    }

    /// Logs how many invalid records were not logged one by one, if any.
    mutating func flush(logger: Logger) {
        guard suppressed > 0 else { return }
        logger.warning("ignored \(suppressed) more invalid messages", metadata: ["period_seconds": "\(Int(period))"])
        suppressed = 0
    }
}

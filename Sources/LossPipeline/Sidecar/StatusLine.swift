import Logging

/// The periodic info line: batches per second, errors and queue depth since the last line.
struct StatusLine {
    let interval: Duration
    private var last = ContinuousClock.now
    private var lastReport: SidecarReport?

    init(interval: Duration) {
        self.interval = interval
    }

    /// Logs a line when `interval` has passed since the previous one.
    mutating func tick(counters: SidecarCounters, inFlight: Int, logger: Logger) {
        guard interval > .zero else { return }
        let now = ContinuousClock.now
        let elapsed = last.duration(to: now)
        guard elapsed >= interval else { return }
        let report = counters.report
        let previous =
            lastReport ?? SidecarReport(received: 0, computed: 0, rejected: 0, outputFailures: 0, recordingFailures: 0)
        let done = (report.computed + report.rejected) - (previous.computed + previous.rejected)
        let rate = Double(done) / (elapsed / .seconds(1))
        logger.info(
            "sidecar status",
            metadata: [
                "batches_per_s": "\((rate * 10).rounded() / 10)",
                "received": "\(report.received)", "computed": "\(report.computed)",
                "rejected": "\(report.rejected)", "in_flight": "\(inFlight)",
                "handshake_failures": "\(report.handshakeFailures)",
                "output_handshake_failures": "\(report.outputHandshakeFailures)",
            ])
        last = now
        lastReport = report
    }
}

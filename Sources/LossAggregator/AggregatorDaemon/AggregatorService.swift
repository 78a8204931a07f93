public import Logging
public import ServiceLifecycle

/// Runs an ``AggregatorDaemon`` as a swift-service-lifecycle `Service`: a graceful shutdown or a
/// cancellation stops it, which ingests the records already received and saves the state.
///
/// In a `ServiceGroup`, put it after the HTTP server: services stop in reverse order, so the
/// daemon drains and saves while `/metrics` still answers. Signals are not this service's
/// business: whoever runs the group turns them into a graceful shutdown.
public struct AggregatorService: Service, CustomStringConvertible {
    /// The daemon being run.
    public let daemon: AggregatorDaemon
    private let logger: Logger

    /// Wraps a daemon.
    public init(daemon: AggregatorDaemon, logger: Logger) {
        self.daemon = daemon
        self.logger = logger
    }

    /// "AggregatorService": how service-lifecycle's logs name it (rather than reflecting on its fields).
    public var description: String { "AggregatorService" }

    /// Runs the daemon until a graceful shutdown or a cancellation, and the final save.
    ///
    /// - Throws: ``AggregatorError`` when the daemon cannot start.
    public func run() async throws {
        let daemon = self.daemon
        let logger = self.logger
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await daemon.run()
        } onCancelOrGracefulShutdown: {
            logger.info("stopping the aggregator: ingesting the records already received, then saving")
            daemon.stop()
        }
    }
}

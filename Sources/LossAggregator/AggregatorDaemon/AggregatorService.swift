import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// Runs an ``AggregatorDaemon`` under swift-service-lifecycle: a graceful shutdown (the first
/// SIGINT or SIGTERM) or a cancellation stops it, which drains the received records and saves the
/// state; a second signal exits at once (status 130).
///
/// In a `ServiceGroup`, put it after the HTTP server: services stop in reverse order, so the
/// daemon drains and saves while `/metrics` still answers.
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

    /// Runs the daemon until a signal (or cancellation) and the final save.
    public func run() async throws {
        let daemon = self.daemon
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withTaskCancellationOrGracefulShutdownHandler {
                    try await daemon.run()
                } onCancelOrGracefulShutdown: {
                    logger.info("stopping: ingesting the records already received, then saving (a second signal exits at once)")
                    daemon.stop()
                }
            }
            group.addTask {
                var seen = 0
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    seen += 1
                    guard seen >= 2 else { continue }
                    logger.warning("second signal (\(signal)): exiting without saving")
                    exit(130)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

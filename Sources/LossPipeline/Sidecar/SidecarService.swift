import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

/// Runs a ``Sidecar`` under swift-service-lifecycle: the first SIGINT or SIGTERM drains it, a
/// second one exits at once.
///
/// Put it in a `ServiceGroup` whose graceful-shutdown signals are `[.sigterm, .sigint]`: the group
/// turns the first signal into a graceful shutdown, which stops the receiver and lets every batch
/// already received reach the output. The service watches the same signals itself and ends the
/// process at the second one without waiting (exit status 130).
public struct SidecarService: Service {
    /// The sidecar being run.
    public let sidecar: Sidecar
    private let logger: Logger

    /// Wraps a sidecar.
    public init(sidecar: Sidecar, logger: Logger) {
        self.sidecar = sidecar
        self.logger = logger
    }

    /// Runs the sidecar until a signal and the drain that follows.
    public func run() async throws {
        let sidecar = self.sidecar
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    _ = try await sidecar.run()
                } onGracefulShutdown: {
                    logger.info("stopping: finishing the batches already received (a second signal exits at once)")
                    sidecar.stop()
                }
            }
            group.addTask {
                var seen = 0
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    seen += 1
                    guard seen >= 2 else { continue }
                    let report = sidecar.report
                    logger.warning(
                        "second signal (\(signal)): exiting without draining",
                        metadata: ["received": "\(report.received)", "written": "\(report.computed + report.rejected)"])
                    exit(130)
                }
            }
            // The sidecar finishing ends the run; the signal watcher is then cancelled.
            try await group.next()
            group.cancelAll()
        }
    }
}

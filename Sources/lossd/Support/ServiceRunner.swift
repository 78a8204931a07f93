import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The lifecycle of a long-running command, and the one place in lossd that handles signals.
///
/// The services run in one `ServiceGroup`, which stops them in reverse order of start.
/// - The first SIGINT or SIGTERM triggers the group's graceful shutdown: each service finishes
///   the work it has (the sidecar its received batches, the aggregator its save).
/// - A second signal exits at once with status 130, without waiting for that work.
/// - A service that cannot start (a port in use, a file it cannot open) fails the group: the
///   others are cancelled, and the command logs the failure, which names what to change, and
///   exits 1. Every service reacts to cancellation, so this takes as long as their shutdown.
/// - A service that finishes on its own stops the others only if its configuration says so
///   (`successTerminationBehavior`), as the demo's driver does when its time is up.
enum ServiceRunner {
    /// Runs `services` until they finish (after a signal, a failure, or on their own).
    ///
    /// - Throws: `ExitCode(1)` when a service failed; the failure is logged first.
    static func run(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) async throws {
        // Trapping replaces the default action (ending the process) from here on.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    var received = signals.makeAsyncIterator()
                    guard let first = await received.next() else { return }
                    logger.info("\(first): stopping gracefully (a second signal exits at once)")
                    await group.triggerGracefulShutdown()
                    guard let second = await received.next() else { return }
                    logger.warning("second signal (\(second)): exiting at once, without finishing the work in hand")
                    exit(130)
                }
                tasks.addTask { try await group.run() }
                // The group ends first (the signal sequence only ends when cancelled).
                try await tasks.next()
                tasks.cancelAll()
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

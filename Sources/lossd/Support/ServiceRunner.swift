import ArgumentParser
import Logging
import ServiceLifecycle

/// Runs a long-lived command's services until SIGINT or SIGTERM and the drain that follows.
enum ServiceRunner {
    /// Runs `services` in a group that shuts down gracefully (in reverse order) on the first
    /// SIGINT or SIGTERM. A failure (an input already bound, say) is logged and exits 1.
    static func run(_ services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger) async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
    }
}

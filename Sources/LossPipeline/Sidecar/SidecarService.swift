public import Logging
public import ServiceLifecycle

/// Runs a ``Sidecar`` as a swift-service-lifecycle `Service`.
///
/// A graceful shutdown or a cancellation stops the receiver; every batch already received is
/// computed and its record written before ``run()`` returns. Signals are not this service's
/// business: whoever runs the `ServiceGroup` turns them into a graceful shutdown (lossd does it
/// in one place, which also exits at once on a second signal).
public struct SidecarService: Service {
    /// The sidecar being run.
    public let sidecar: Sidecar
    private let logger: Logger

    /// Wraps a sidecar.
    public init(sidecar: Sidecar, logger: Logger) {
        self.sidecar = sidecar
        self.logger = logger
    }

    /// Runs the sidecar until a graceful shutdown or a cancellation, and the drain that follows.
    ///
    /// - Throws: ``SidecarError`` when the sidecar cannot start.
    public func run() async throws {
        let sidecar = self.sidecar
        let logger = self.logger
        try await withTaskCancellationOrGracefulShutdownHandler {
            _ = try await sidecar.run()
        } onCancelOrGracefulShutdown: {
            logger.info("stopping the sidecar: finishing the batches already received")
            sidecar.stop()
        }
    }
}

extension SidecarService: CustomStringConvertible {
    /// "SidecarService": how service-lifecycle's logs name it (rather than reflecting on its fields).
    public var description: String { "SidecarService" }
}

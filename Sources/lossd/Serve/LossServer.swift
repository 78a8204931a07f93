import Foundation
import Logging
import LossAggregator
import LossPipeline
import ServiceLifecycle
import ZeroMQ

/// A sidecar and an aggregator in one process, joined by an `inproc://` socket: `lossd serve`.
///
/// Both share one ZeroMQ context (inproc endpoints only join sockets of the same context), and so
/// one CURVE authenticator, which applies each input's own allowed clients (the sidecar's input
/// takes trainers, the records input other sidecars). The inproc link itself never uses CURVE:
/// libzmq runs no security mechanism over inproc. ``services`` lists, in start order, the
/// aggregator's HTTP server, the aggregator and the sidecar; a `ServiceGroup` stops them in the
/// reverse order, so that at shutdown the sidecar drains into a still-running aggregator, which
/// then ingests everything, saves its state and stops while HTTP still answers.
final class LossServer: Sendable {
    /// The sidecar's settings, its output replaced by the inproc link.
    let sidecar: Sidecar
    /// The aggregator, whose inputs are the inproc link plus any extra endpoints.
    let daemon: AggregatorDaemon
    /// The HTTP address; port 0 means any free port, reported to `onHTTPListening`.
    let http: HTTPAddress
    private let context: Context
    private let authenticator: CurveAuthenticator?
    private let logger: Logger
    private let onHTTPListening: @Sendable (Int) async -> Void

    /// The inproc endpoint that carries records from the sidecar to the aggregator.
    static let link = "inproc://lossd-serve-records"

    /// Assembles the two halves; binds nothing until the services run.
    ///
    /// - Parameters:
    ///   - sidecar: The sidecar's settings; its output is replaced by the inproc link.
    ///   - aggregator: The aggregator's settings; the inproc link is added to its inputs.
    ///   - onSidecarListening: Called with the sidecar's bound input once it takes batches.
    ///   - onHTTPListening: Called with the HTTP port once the server listens.
    init(
        sidecar sidecarSettings: SidecarSettings,
        aggregator aggregatorSettings: AggregatorSettings,
        logger: Logger,
        onSidecarListening: @escaping @Sendable (String?) -> Void = { _ in },
        onHTTPListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws {
        let context = try Context()
        var sidecarSettings = sidecarSettings
        sidecarSettings.output = .zeromq([try Endpoint(role: .connect, address: Self.link)])
        sidecarSettings.outputSecurity = .plain
        var aggregatorSettings = aggregatorSettings
        aggregatorSettings.input = [try Endpoint(role: .bind, address: Self.link)] + aggregatorSettings.input
        let sidecar = Sidecar(
            settings: sidecarSettings, logger: logger, context: context, onListening: onSidecarListening)
        let daemon = try AggregatorDaemon(settings: aggregatorSettings, logger: logger, context: context)
        self.authenticator = try ServerAuthentication.start(
            context: context, sockets: [sidecar.inputHandshakes] + daemon.handshakes)
        self.context = context
        self.sidecar = sidecar
        self.daemon = daemon
        self.http = aggregatorSettings.http
        self.logger = logger
        self.onHTTPListening = onHTTPListening
    }

    /// The services to run, in start order: HTTP, aggregator, sidecar.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        [
            .init(
                service: AggregatorHTTPServer.service(
                    aggregator: daemon.aggregator, address: http, logger: logger,
                    handshakes: [sidecar.inputHandshakes] + daemon.handshakes,
                    webConfig: daemon.settings.webConfig, openHealthz: daemon.settings.openHealthz,
                    onListening: onHTTPListening)),
            .init(service: AggregatorService(daemon: daemon, logger: logger)),
            .init(service: SidecarService(sidecar: sidecar, logger: logger)),
        ]
    }

    deinit {
        authenticator?.stop()
    }
}

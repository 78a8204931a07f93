public import Hummingbird
public import Logging
public import ServiceLifecycle

/// The aggregator's HTTP endpoints, served by Hummingbird:
///
/// | path | answer |
/// | --- | --- |
/// | `GET /metrics` | the Prometheus text format (``PrometheusExposition``) |
/// | `GET /stats` | the same figures as one JSON object (``AggregatorSnapshot/jsonLine()``) |
/// | `GET /healthz` | `ok`, while the server runs |
/// | `GET /` | a list of these paths |
///
/// Each request reads one snapshot of the ``Aggregator``; the receiver is held up only for the
/// copy of its state.
public enum AggregatorHTTPServer {
    /// The Hummingbird application serving `aggregator` on `address`.
    ///
    /// It is a swift-service-lifecycle `Service`: run it in the same `ServiceGroup` as the
    /// ``AggregatorService``. `onListening` receives the bound port (useful with port 0).
    public static func application(
        aggregator: Aggregator,
        address: HTTPAddress,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Application<RouterResponder<BasicRequestContext>> {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            let body = PrometheusExposition.render(aggregator.snapshot())
            return Self.response(body, contentType: PrometheusExposition.contentType)
        }
        router.get("/stats") { _, _ -> Response in
            var body = aggregator.snapshot().jsonLine()
            body.append(UInt8(ascii: "\n"))
            return Self.response(body, contentType: "application/json")
        }
        router.get("/healthz") { _, _ -> Response in
            Self.response(Array("ok\n".utf8), contentType: "text/plain; charset=utf-8")
        }
        router.get("/") { _, _ -> Response in
            let index = """
                lossd aggregate
                  GET /metrics   Prometheus text format
                  GET /stats     the same figures as JSON
                  GET /healthz   ok while the server runs

                """
            return Self.response(Array(index.utf8), contentType: "text/plain; charset=utf-8")
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "lossd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info("HTTP listening", metadata: ["http": "\(HTTPAddress(host: address.host, port: port))"])
                await onListening(port)
            },
            logger: logger)
    }

    /// The application as a `Service` whose failures (an address in use) are
    /// ``AggregatorError/http(address:reason:)``, which name the setting to change.
    public static func service(
        aggregator: Aggregator,
        address: HTTPAddress,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        HTTPService(
            application: application(aggregator: aggregator, address: address, logger: logger, onListening: onListening),
            address: address)
    }

    /// Runs the application, naming the address in its failures.
    private struct HTTPService: Service, CustomStringConvertible {
        let application: Application<RouterResponder<BasicRequestContext>>
        let address: HTTPAddress

        var description: String { "HTTP \(address)" }

        func run() async throws {
            do {
                try await application.run()
            } catch {
                throw AggregatorError.http(address: address.description, reason: "\(error)")
            }
        }
    }

    private static func response(_ bytes: [UInt8], contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

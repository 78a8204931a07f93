import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
public import LossPipeline
public import ServiceLifecycle

/// The aggregator's HTTP endpoints, served by Hummingbird:
///
/// | path | answer |
/// | --- | --- |
/// | `GET /metrics` | the Prometheus text format (``PrometheusExposition``) |
/// | `GET /stats` | the same figures as one JSON object (``AggregatorSnapshot/jsonLine()``); `?steps=N`: N steps |
/// | `GET /healthz` | `ok`, while the server runs |
/// | `GET /` | the dashboard (``DashboardPage``): charts per (run, split); `?refresh=N` every N s (5; 0 never) |
///
/// `/stats` lists the last 10 steps of each (run, split), or the last N with `?steps=N`. Each
/// request reads one snapshot of the ``Aggregator``; the receiver is held up only for the copy of
/// its state.
///
/// A ``WebConfig`` (`aggregate.web_config`) guards every path: TLS from its `tls_server_config`,
/// basic authentication for its `basic_auth_users`; with `openHealthz`, `/healthz` answers
/// without credentials (it tells nothing but that the server runs).
public enum AggregatorHTTPServer {
    /// The Hummingbird application serving `aggregator` on `address`.
    ///
    /// It is a swift-service-lifecycle `Service`: run it in the same `ServiceGroup` as the
    /// ``AggregatorService``. `onListening` receives the bound port (useful with port 0).
    /// `/metrics` includes the handshake failures counted by `handshakes` (the process's sockets).
    ///
    /// - Throws: When Hummingbird cannot set up TLS with `webConfig`'s configuration (which
    ///   ``WebConfig/load(path:)`` has already checked).
    public static func application(
        aggregator: Aggregator,
        address: HTTPAddress,
        logger: Logger,
        handshakes: [HandshakeFailureLog] = [],
        webConfig: WebConfig? = nil,
        openHealthz: Bool = false,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        let router = Router()
        if let users = webConfig?.users, !users.isEmpty {
            router.add(middleware: BasicAuthMiddleware(users: users, openPaths: openHealthz ? ["/healthz"] : []))
        }
        router.get("/metrics") { _, _ -> Response in
            let body = PrometheusExposition.render(
                aggregator.snapshot(), handshakeFailures: handshakes.map { ($0.socket, $0.counts) })
            return Self.response(body, contentType: PrometheusExposition.contentType)
        }
        router.get("/stats") { request, _ -> Response in
            let steps = request.uri.queryParameters["steps"].flatMap { Int($0) }.map { max(0, $0) }
            var body = aggregator.snapshot(steps: steps ?? SplitSnapshot.defaultStepCount).jsonLine()
            body.append(UInt8(ascii: "\n"))
            return Self.response(body, contentType: "application/json")
        }
        router.get("/healthz") { _, _ -> Response in
            Self.response(Array("ok\n".utf8), contentType: "text/plain; charset=utf-8")
        }
        router.get("/") { request, _ -> Response in
            let refresh = request.uri.queryParameters["refresh"].flatMap { Int($0) }.map { min(max($0, 0), 3600) }
            let page = Self.dashboard(
                aggregator.aggregation, at: Date().timeIntervalSince1970, refreshSeconds: refresh ?? 5)
            return Self.response(Array(page.render().utf8), contentType: "text/html; charset=utf-8")
        }
        let server: HTTPServerBuilder
        if let tls = webConfig?.tls {
            server = try .tls(tlsConfiguration: tls.configuration)
        } else {
            server = .http1()
        }
        let tls = webConfig?.tls == nil ? "off" : "on"
        let users = webConfig?.users.names ?? []
        let authentication =
            users.isEmpty ? "off" : "basic (\(users.count) users)\(openHealthz ? ", /healthz open" : "")"
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port), serverName: "lossd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info(
                    "HTTP listening",
                    metadata: [
                        "http": "\(HTTPAddress(host: address.host, port: port))", "tls": "\(tls)",
                        "authentication": "\(authentication)",
                    ])
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
        handshakes: [HandshakeFailureLog] = [],
        webConfig: WebConfig? = nil,
        openHealthz: Bool = false,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        HTTPService(
            makeApplication: {
                try application(
                    aggregator: aggregator, address: address, logger: logger, handshakes: handshakes,
                    webConfig: webConfig, openHealthz: openHealthz, onListening: onListening)
            },
            address: address)
    }

    /// Runs the application, naming the address in its failures.
    private struct HTTPService: Service, CustomStringConvertible {
        let makeApplication: @Sendable () throws -> Application<RouterResponder<BasicRequestContext>>
        let address: HTTPAddress

        var description: String { "HTTP \(address)" }

        func run() async throws {
            do {
                try await makeApplication().run()
            } catch {
                throw AggregatorError.http(address: address.description, reason: "\(error)")
            }
        }
    }

    /// The dashboard page of `aggregation` as of `time`.
    public static func dashboard(_ aggregation: Aggregation, at time: Double, refreshSeconds: Int) -> DashboardPage {
        let snapshot = aggregation.snapshot(at: time)
        return DashboardPage(
            title: "lossd", panels: DashboardPanel.panels(of: aggregation, at: time), time: time,
            refreshSeconds: refreshSeconds,
            facts: [
                ("records", DashboardFormat.count(snapshot.records)),
                ("records/s", DashboardFormat.value(snapshot.recordsPerSecond, digits: 3)),
                ("invalid", DashboardFormat.count(snapshot.invalid)),
                ("started", DashboardFormat.time(snapshot.startTime)),
            ],
            footer: refreshSeconds > 0
                ? "Reloads every \(refreshSeconds) s (?refresh=0 stops it)."
                : "Does not reload (?refresh=5 reloads every 5 s).",
            links: [("/stats", "/stats"), ("/metrics", "/metrics"), ("/healthz", "/healthz")])
    }

    private static func response(_ bytes: [UInt8], contentType: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

import Foundation
import LossdTestSupport
import Testing

/// `lossd aggregate --web-config`: TLS and basic authentication on the HTTP port, checked with
/// curl and with a real Prometheus scrape job (`scheme: https`, `tls_config`, `basic_auth`).
/// Certificates are made by openssl for each test, the password's hash by Apache's htpasswd, with
/// the commands docs/SECURITY.md gives.
@Suite("guarded HTTP port", .timeLimit(.minutes(3)))
struct GuardedHTTPTests {
    /// `htpasswd -nbBC 10 prometheus secret`, run now: the hash after the colon.
    private func secretHash() async throws -> String {
        guard let htpasswd = TestEnvironment.program("htpasswd") else {
            Issue.record("htpasswd is not installed: run scripts/install-deps.sh (Debian's apache2-utils package)")
            throw CancellationError()
        }
        let result = try await TestEnvironment.run(htpasswd, ["-nbBC", "10", "prometheus", "secret"])
        let line = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.status == 0, line.hasPrefix("prometheus:$2y$10$") else {
            Issue.record("htpasswd printed \(line)")
            throw CancellationError()
        }
        return String(line.dropFirst("prometheus:".count))
    }

    /// A running aggregator behind TLS and a password, with its files.
    struct Guarded {
        let daemon: LossdDaemon
        let http: Int
        let input: String
        let certificate: String
    }

    /// Writes the certificates and web.yml into `folder` and starts `lossd aggregate` with them;
    /// returns once an authenticated HTTPS request answers.
    private func start(folder: URL, extra: [String] = []) async throws -> Guarded {
        let files = try TestCertificates.make(in: folder)
        let hash = try await secretHash()
        let webConfig = folder.appendingPathComponent("web.yml")
        try """
        tls_server_config:
          cert_file: server.crt
          key_file: server.key
        basic_auth_users:
          prometheus: \(hash)
        """.write(to: webConfig, atomically: true, encoding: .utf8)
        let http = try TestEnvironment.freePort()
        let input = "ipc://\(folder.path)/in.sock"
        let daemon = try LossdDaemon(
            [
                "aggregate", "--input", "@ipc://\(folder.path)/link.sock", "--pull-input", "@" + input, "--http",
                "127.0.0.1:\(http)", "--web-config", webConfig.path,
            ]
                + extra, folder: folder)
        let deadline = Date().addingTimeInterval(30)
        while try await curl(http, "/healthz", user: "prometheus:secret", ca: files.certificate).status != 200 {
            guard daemon.process.isRunning, Date() < deadline else {
                Issue.record("lossd aggregate did not serve HTTPS on \(http):\n\(daemon.stderr)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return Guarded(daemon: daemon, http: http, input: input, certificate: files.certificate)
    }

    /// GET `path` with curl: its exit status and the HTTP status (0 when there was no answer).
    private func curl(
        _ port: Int, _ path: String, user: String? = nil, ca: String? = nil, scheme: String = "https"
    ) async throws -> (exit: Int32, status: Int) {
        var arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]
        if let ca { arguments += ["--cacert", ca] }
        if let user { arguments += ["-u", user] }
        arguments.append("\(scheme)://127.0.0.1:\(port)\(path)")
        let result = try await TestEnvironment.run("/usr/bin/curl", arguments)
        return (result.status, Int(result.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
    }

    @Test("curl: no credentials 401, wrong ones 401, right ones 200 on every path; plain HTTP refused")
    func curlMatrix() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let guarded = try await start(folder: folder)
        let ca = guarded.certificate
        for path in ["/metrics", "/stats", "/", "/healthz"] {
            #expect(try await curl(guarded.http, path, ca: ca).status == 401, "\(path) without credentials")
            #expect(
                try await curl(guarded.http, path, user: "prometheus:wrong", ca: ca).status == 401,
                "\(path) with a wrong password")
            #expect(
                try await curl(guarded.http, path, user: "nobody:secret", ca: ca).status == 401,
                "\(path) with an unknown user")
            #expect(try await curl(guarded.http, path, user: "prometheus:secret", ca: ca).status == 200, "\(path)")
        }
        // Plain HTTP to the TLS port: no HTTP answer at all (curl fails; the server speaks only TLS).
        let plain = try await curl(guarded.http, "/metrics", user: "prometheus:secret", scheme: "http")
        #expect(plain.exit != 0 && plain.status == 0, "plain HTTP got \(plain)")
        // A client that does not trust the certificate is refused by its own TLS check (curl exit 60).
        #expect(try await curl(guarded.http, "/metrics", user: "prometheus:secret").exit == 60)
        #expect(try await guarded.daemon.stop() == 0)
    }

    @Test("--open-healthz serves /healthz without credentials and guards the rest")
    func openHealthz() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let guarded = try await start(folder: folder, extra: ["--open-healthz"])
        #expect(try await curl(guarded.http, "/healthz", ca: guarded.certificate).status == 200)
        #expect(try await curl(guarded.http, "/metrics", ca: guarded.certificate).status == 401)
        #expect(try await curl(guarded.http, "/stats", ca: guarded.certificate).status == 401)
        #expect(try await guarded.daemon.stop() == 0)
    }

    @Test("a Prometheus scrape job with scheme https, tls_config and basic_auth stores lossd_loss_mean")
    func prometheusScrapeOverTLS() async throws {
        guard let prometheus = TestEnvironment.program("prometheus") else {
            Issue.record("prometheus is not installed: run scripts/install-deps.sh (Debian's prometheus package)")
            return
        }
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let guarded = try await start(folder: folder)
        try await TestEnvironment.push(AggregateCommandTests.script, to: guarded.input)

        let server = try PrometheusServer(
            program: prometheus,
            job: """
                    scheme: https
                    tls_config:
                      ca_file: \(guarded.certificate)
                    basic_auth:
                      username: prometheus
                      password: secret
                    static_configs:
                      - targets: ["127.0.0.1:\(guarded.http)"]
                """, folder: folder)
        let query = #"lossd_loss_mean{run="exp",split="train",component="loss"}"#
        let expected = AggregateCommandTests.trainMean
        // Until the scraped value is that of every record (the first scrapes may precede the last ones).
        let value = try await server.value(of: query) { abs($0 - expected) <= 1e-12 * expected }
        let scraped = try #require(value, "Prometheus never returned \(query):\n\(server.daemon.stderr)")
        #expect(abs(scraped - expected) <= 1e-12 * expected, "\(scraped) != \(expected)")
        #expect(try await server.daemon.stop() == 0)
        #expect(try await guarded.daemon.stop() == 0)
    }

    @Test(
        "a bad web configuration stops lossd aggregate at start (exit 64) naming the file and the key",
        arguments: [
            ("basic_auth_users:\n  prometheus: secret\n", "basic_auth_users.prometheus"),
            ("tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n", "nowhere.crt does not exist"),
        ])
    func badWebConfig(text: String, expected: String) async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let webConfig = folder.appendingPathComponent("web.yml")
        try text.write(to: webConfig, atomically: true, encoding: .utf8)
        let output = try LossdProcess.run(
            ["aggregate", "--http", "127.0.0.1:0", "--web-config", webConfig.path], timeout: 30)
        #expect(output.status == 64, "\(output.stderr)")
        #expect(output.stderr.contains(expected) && output.stderr.contains("web.yml"), "\(output.stderr)")
        #expect(output.stderr.contains("--web-config"), "names the flag: \(output.stderr)")
    }
}

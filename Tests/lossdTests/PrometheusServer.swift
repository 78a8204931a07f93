import Foundation
import LossdTestSupport

/// A real Prometheus server started by a test: one scrape job, scraped every second, its data in
/// the test's folder; read through its query API.
struct PrometheusServer {
    /// The process (stop it with `daemon.stop()`).
    let daemon: LossdDaemon
    /// Its HTTP port on 127.0.0.1.
    let port: Int

    /// Starts `program` with the scrape job `job`: YAML lines that follow `- job_name: lossd`,
    /// indented by four spaces (`scheme`, `tls_config`, `static_configs`, …).
    init(program: String, job: String, folder: URL) throws {
        port = try TestEnvironment.freePort()
        let config = folder.appendingPathComponent("prometheus.yml")
        try """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: lossd
        \(job)
        """.write(to: config, atomically: true, encoding: .utf8)
        daemon = try LossdDaemon.external(
            program,
            [
                "--config.file=\(config.path)", "--storage.tsdb.path=\(folder.path)/tsdb",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ],
            folder: folder, name: "prometheus")
    }

    /// Polls the query API every 250 ms until `query` has a value that `accept` takes, for at most
    /// `timeout` seconds: the last value seen, or nil when there was none.
    func value(
        of query: String, timeout: Double = 60, until accept: (Double) -> Bool = { _ in true }
    ) async throws -> Double? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        var value: Double?
        let deadline = Date().addingTimeInterval(timeout)
        while !(value.map(accept) ?? false) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            guard daemon.process.isRunning else { break }
            guard
                let response = try? await HTTPGet.fetch(port: port, path: "/api/v1/query?query=\(encoded)", timeout: 5),
                response.status == 200,
                let body = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
                let result = (body["data"] as? [String: Any])?["result"] as? [[String: Any]],
                let sample = result.first?["value"] as? [Any], sample.count == 2,
                let text = sample[1] as? String
            else { continue }
            value = Double(text)
        }
        return value
    }
}

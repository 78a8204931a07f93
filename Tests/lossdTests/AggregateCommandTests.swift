import Foundation
import LossWire
import LossdTestSupport
import SSDLoss
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `lossd aggregate` as an operator runs it: a real process fed over ZeroMQ, read over HTTP, checked
/// by promtool and scraped by a real Prometheus server.
@Suite("lossd aggregate", .timeLimit(.minutes(3)))
struct AggregateCommandTests {
    /// A loss record line as a sidecar writes it.
    static func line(
        run: String = "exp", split: String = "train", source: String = "rank0", seq: Int?, epoch: Int? = nil,
        batch: Int, loss: Double
    ) -> [UInt8] {
        LossRecord(
            run: run, split: split, source: source, epoch: epoch, step: seq, seq: seq,
            shape: BatchShape(batch: batch, boxes: 8, classes: 4), loss: loss, classification: 0.75 * loss,
            localization: 0.25 * loss, perItem: Array(repeating: loss, count: batch), positives: 2, negatives: 6,
            negativesAvailable: 20, parameters: LossParameters(), computeMicros: 5, sidecar: "test:1"
        ).jsonLine()
    }

    /// The scripted records: 4 batches of `exp/train` with seq 2 missing, one of `exp/val`, an
    /// error record, a duplicate, a line that is not a record, and a run label that needs escaping.
    static let script: [[UInt8]] = [
        line(seq: 0, epoch: 0, batch: 2, loss: 1.0),
        line(seq: 1, epoch: 0, batch: 4, loss: 2.0),
        line(seq: 3, epoch: 1, batch: 2, loss: 4.0),
        line(seq: 3, epoch: 1, batch: 2, loss: 100.0),  // duplicate: not aggregated
        line(seq: 4, epoch: 1, batch: 8, loss: 0.5),
        line(split: "val", source: "eval", seq: 0, batch: 3, loss: 3.0),
        line(run: "quote\"back\\slash\nnewline", seq: nil, batch: 1, loss: 9.0),
        WireError(
            code: .nonfinite, message: "the batch holds NaN",
            labels: BatchLabels(run: "exp", split: "train", source: "rank0", seq: 5)
        ).jsonLine(),
        Array("this is not a record".utf8),
    ]
    /// (2·1 + 4·2 + 2·4 + 8·0.5) / 16
    static let trainMean = 22.0 / 16

    /// Starts `lossd aggregate` on free ports with `extra` flags and waits for its HTTP server.
    private func start(
        folder: URL, extra: [String] = [], name: String = "aggregate"
    ) async throws -> (LossdDaemon, http: Int, input: String) {
        let http = try TestEnvironment.freePort()
        let input = "ipc://\(folder.path)/in.sock"
        let daemon = try LossdDaemon(
            [
                "aggregate", "--input", "@ipc://\(folder.path)/link.sock", "--pull-input", "@" + input, "--http",
                "127.0.0.1:\(http)", "--log-level", "debug",
            ] + extra,
            folder: folder, name: name)
        try await daemon.waitForHTTP(port: http)
        return (daemon, http, input)
    }

    /// Polls `/stats` until it has counted `records` messages.
    private func waitForRecords(_ records: Int, port: Int) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(20)
        while true {
            let response = try await HTTPGet.fetch(port: port, path: "/stats")
            let stats = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            if stats["records"] as? Int == records || Date() > deadline { return stats }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func split(_ stats: [String: Any], run: String, split: String) -> [String: Any]? {
        (stats["splits"] as? [[String: Any]])?.first { $0["run"] as? String == run && $0["split"] as? String == split }
    }

    @Test("the live /metrics passes promtool check metrics and holds the SPEC's families")
    func promtoolCheckMetrics() async throws {
        guard let promtool = TestEnvironment.program("promtool") else {
            Issue.record(
                """
                promtool is not installed: run scripts/install-deps.sh (make deps installs Debian's prometheus \
                package)
                """
            )
            return
        }
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (daemon, http, input) = try await start(folder: folder)
        try await TestEnvironment.push(Self.script, to: input)
        _ = try await waitForRecords(Self.script.count, port: http)
        let metrics = try await HTTPGet.fetch(port: http, path: "/metrics")
        #expect(metrics.status == 200)
        let file = folder.appendingPathComponent("metrics.txt")
        try Data(metrics.body.utf8).write(to: file)
        let check = try await TestEnvironment.run("/bin/sh", ["-c", "\(promtool) check metrics < '\(file.path)'"])
        #expect(check.status == 0, "promtool check metrics:\n\(check.output)\n\(metrics.body)")
        for family in [
            "lossd_batches_total", "lossd_samples_total", "lossd_loss_mean", "lossd_loss_ema", "lossd_loss_window",
            "lossd_loss_last", "lossd_loss_min", "lossd_loss_max", "lossd_loss_epoch_mean", "lossd_errors_total",
            "lossd_lost_batches_total", "lossd_duplicate_batches_total",
        ] {
            #expect(metrics.body.contains("# TYPE \(family) "), "\(family) missing")
        }
        #expect(metrics.body.contains(#"lossd_duplicate_batches_total{run="exp",source="rank0"} 1"#))
        #expect(metrics.body.contains(#"lossd_errors_total{run="exp",split="train",code="nonfinite"} 1"#))
        #expect(metrics.body.contains(#"run="quote\"back\\slash\nnewline""#), "label values are escaped")
        #expect(try await daemon.stop() == 0)
    }

    @Test("a Prometheus server scraping the aggregator stores lossd_loss_mean with the right value")
    func prometheusScrape() async throws {
        guard let prometheus = TestEnvironment.program("prometheus") else {
            Issue.record(
                """
                prometheus is not installed: run scripts/install-deps.sh (make deps installs Debian's prometheus \
                package)
                """
            )
            return
        }
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (aggregator, http, input) = try await start(folder: folder)
        try await TestEnvironment.push(Self.script, to: input)
        _ = try await waitForRecords(Self.script.count, port: http)

        let server = try PrometheusServer(
            program: prometheus, job: "    static_configs:\n      - targets: [\"127.0.0.1:\(http)\"]", folder: folder)
        let query = #"lossd_loss_mean{run="exp",split="train",component="loss"}"#
        let value = try await server.value(of: query)
        let scraped = try #require(value, "Prometheus never returned \(query):\n\(server.daemon.stderr)")
        #expect(abs(scraped - Self.trainMean) <= 1e-12 * Self.trainMean, "\(scraped) != \(Self.trainMean)")
        #expect(try await server.daemon.stop() == 0)
        #expect(try await aggregator.stop() == 0)
    }

    @Test("Config/alerts.yml passes promtool check rules, and fires as its unit tests in Tests/Fixtures/alerts say")
    func alertRules() async throws {
        guard let promtool = TestEnvironment.program("promtool") else {
            Issue.record("promtool is not installed: run scripts/install-deps.sh")
            return
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let rules = root.appendingPathComponent("Config/alerts.yml")
        let check = try await TestEnvironment.run(promtool, ["check", "rules", rules.path])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS"), "\(check.output)")

        let folder = root.appendingPathComponent("Tests/Fixtures/alerts")
        let tests = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".test.yml") }.sorted().map { folder.appendingPathComponent($0).path }
        try #require(!tests.isEmpty, "no promtool tests in \(folder.path)")
        let unitTests = try await TestEnvironment.run(promtool, ["test", "rules"] + tests)
        #expect(unitTests.status == 0, "\(unitTests.output)")
    }

    @Test("SIGTERM saves the state and a restart serves the same statistics; gaps count as lost at shutdown")
    func restart() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state.json").path
        let snapshots = folder.appendingPathComponent("snapshots.jsonl").path
        let flags = [
            "--state", state, "--snapshots", snapshots, "--snapshot-interval", "0.2", "--state-interval", "60",
        ]
        let (first, http, input) = try await start(folder: folder, extra: flags, name: "first")
        try await TestEnvironment.push(Self.script, to: input)
        let before = try await waitForRecords(Self.script.count, port: http)
        #expect(try await first.stop(SIGTERM) == 0, "\(first.stderr)")
        #expect(first.stderr.contains("aggregator stopped: records=\(Self.script.count)"), "\(first.stderr)")

        let (second, http2, _) = try await start(folder: folder, extra: flags, name: "second")
        let after = try await waitForRecords(Self.script.count, port: http2)
        let trainBefore = try #require(split(before, run: "exp", split: "train"))
        let trainAfter = try #require(split(after, run: "exp", split: "train"))
        #expect(trainAfter["batches"] as? Int == 4)
        #expect(trainAfter["samples"] as? Int == 16)
        for key in ["loss", "classification", "localization"] {
            #expect(
                NSDictionary(dictionary: try #require(trainAfter[key] as? [String: Any]))
                    == NSDictionary(dictionary: try #require(trainBefore[key] as? [String: Any])), "\(key)")
        }
        let loss = try #require(trainAfter["loss"] as? [String: Any])
        #expect(abs((loss["mean"] as? Double ?? 0) - Self.trainMean) < 1e-12)
        #expect(trainAfter["epoch"] as? Int == 1)
        let sources = try #require(after["sources"] as? [[String: Any]])
        let rank0 = try #require(sources.first { $0["source"] as? String == "rank0" })
        #expect(rank0["lost"] as? Int == 1)  // seq 2, counted at shutdown
        #expect(rank0["duplicates"] as? Int == 1)
        #expect(try await second.stop(SIGINT) == 0)

        let lines = try String(contentsOfFile: snapshots, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 2)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(line)")
        }
    }

    @Test("a damaged state file is moved aside with a warning and the daemon starts fresh")
    func damagedState() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state.json")
        try Data(#"{"v":1,"kind":"lossd-aggregate-state","start_ti"#.utf8).write(to: state)
        let (daemon, http, _) = try await start(folder: folder, extra: ["--state", state.path])
        let stats = try await waitForRecords(0, port: http)
        #expect(stats["records"] as? Int == 0)
        let moved = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasPrefix("state.json.damaged-")
        }
        #expect(moved.count == 1)
        #expect(daemon.stderr.contains("moved it aside"), "\(daemon.stderr)")
        #expect(try await daemon.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: state.path))  // a fresh state was saved at shutdown
    }

    @Test("a bad setting stops lossd aggregate at start with the key's name (exit 64)")
    func badSetting() throws {
        let result = try LossdProcess.run(["aggregate", "--ema-decay", "1.5"], timeout: 30)
        #expect(result.status == 64)
        #expect(result.stderr.contains("aggregate.ema_decay"), "\(result.stderr)")
    }

    @Test("an HTTP port in use stops lossd aggregate with exit status 1 and names --http")
    func httpPortInUse() async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let taken = try #require(TestEnvironment.listeningSocket())
        defer { close(taken.fd) }
        let result = try LossdProcess.run(
            ["aggregate", "--input", "@ipc://\(folder.path)/in.sock", "--http", "127.0.0.1:\(taken.port)"], timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot serve HTTP on 127.0.0.1:\(taken.port)"), "\(result.stderr)")
        #expect(result.stderr.contains("--http"))
    }

    @Test("lossd bench aggregate --json prints records per second")
    func bench() throws {
        let result = try LossdProcess.run(
            ["bench", "aggregate", "--records", "2000", "--repeat", "1", "--json"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(result.jsonLines.first)
        #expect(object["part"] as? String == "aggregate")
        #expect((object["records_per_s"] as? Double ?? 0) > 0)
    }
}

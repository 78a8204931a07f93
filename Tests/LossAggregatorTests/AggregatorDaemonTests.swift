import Foundation
import Logging
import LossWire
import LossdTestSupport
import ServiceLifecycle
import Testing
import ZeroMQ

@testable import LossAggregator

/// The daemon in this process with real sockets: records pushed over ZeroMQ, read back over HTTP.
@Suite("Aggregator daemon: ZeroMQ in, HTTP out", .timeLimit(.minutes(2)))
struct AggregatorDaemonTests {
    /// A running daemon and HTTP server, stopped by `shutdown()`.
    final class Running: Sendable {
        let daemon: AggregatorDaemon
        let group: ServiceGroup
        let task: Task<Void, any Error>
        let httpPort: Int
        let input: String

        init(settings: AggregatorSettings) async throws {
            var logger = Logger(label: "test")
            logger.logLevel = .warning
            daemon = try AggregatorDaemon(settings: settings, logger: logger)
            let port = Latch<Int>()
            let app = try AggregatorHTTPServer.application(
                aggregator: daemon.aggregator, address: settings.http, logger: logger
            ) { bound in
                port.open(bound)
            }
            group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: app), .init(service: AggregatorService(daemon: daemon, logger: logger))],
                    logger: logger))
            task = Task { [group] in try await group.run() }
            httpPort = try await port.wait()
            // Plain records are pushed to the PULL input; the link's ROUTER is tested with sidecars.
            input = (settings.pullInput ?? settings.input)[0].address
        }

        func shutdown() async throws {
            await group.triggerGracefulShutdown()
            try await task.value
        }
    }

    private func settings(folder: URL, state: Bool = false) throws -> AggregatorSettings {
        let socket = folder.appendingPathComponent("in.sock").path
        return AggregatorSettings(
            input: [try Endpoint(role: .bind, address: "ipc://\(folder.appendingPathComponent("link.sock").path)")],
            pullInput: [try Endpoint(role: .bind, address: "ipc://\(socket)")],
            http: HTTPAddress(host: "127.0.0.1", port: 0),
            statePath: state ? folder.appendingPathComponent("state.json").path : nil,
            snapshotsPath: folder.appendingPathComponent("snapshots.jsonl").path,
            snapshotInterval: .milliseconds(100),
            stateInterval: .milliseconds(200),
            parameters: AggregationParameters(window: 3, reorderWindow: 2))
    }

    private func temporaryFolder() throws -> URL {
        let folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("lossd-agg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Pushes lines on a PUSH socket, on a thread of its own, and waits until they have been handed over.
    private func push(_ lines: [[UInt8]], to address: String) async throws {
        try await SocketThread.run(name: "test-push") { try pushBlocking(lines, to: address) }
    }

    private func pushBlocking(_ lines: [[UInt8]], to address: String) throws {
        let context = try Context()
        let socket = try Socket(context, type: .push)
        defer { socket.close() }
        try socket.setOptions([.linger(.seconds(5))])
        try socket.connect(address)
        for line in lines { try socket.send([line]) }
    }

    /// Polls `/stats` until `condition` holds on the JSON object (at most 10 s).
    private func waitForStats(port: Int, until condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let response = try await HTTPGet.fetch(port: port, path: "/stats")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            if condition(object) || ContinuousClock.now > deadline { return object }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("records pushed over ZeroMQ show on /stats and /metrics; /healthz answers")
    func endpoints() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let running = try await Running(settings: try settings(folder: folder))
        var lines = [1.0, 2.0, 4.0].enumerated().map { index, loss in
            Records.loss(run: "exp \"1\"", source: "rank0", seq: index, batch: index + 1, loss: loss).jsonLine()
        }
        lines.append(Array("not a record".utf8))
        lines.append(Records.error(.badFrames, run: "exp \"1\"", source: "rank0", seq: 3).jsonLine())
        try await push(lines, to: running.input)
        let stats = try await waitForStats(port: running.httpPort) { ($0["records"] as? Int) == 5 }
        #expect(stats["records"] as? Int == 5)
        #expect(stats["invalid"] as? Int == 1)
        let splits = try #require(stats["splits"] as? [[String: Any]])
        let split = try #require(splits.first)
        #expect(split["run"] as? String == "exp \"1\"")
        #expect(split["batches"] as? Int == 3)
        #expect(split["samples"] as? Int == 6)
        let loss = try #require(split["loss"] as? [String: Any])
        // (1·1 + 2·2 + 3·4) / 6
        #expect(isClose(loss["mean"] as? Double, 17.0 / 6))
        #expect((split["errors"] as? [String: Int]) == ["bad_frames": 1])

        let metrics = try await HTTPGet.fetch(port: running.httpPort, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let escapedRun = #"run="exp \"1\"""#
        #expect(metrics.body.contains(#"lossd_batches_total{\#(escapedRun),split="train"} 3"#), "\(metrics.body)")
        #expect(metrics.body.contains(#"lossd_errors_total{\#(escapedRun),split="train",code="bad_frames"} 1"#))
        #expect(metrics.body.contains(#"lossd_lost_batches_total{\#(escapedRun),source="rank0"} 0"#))
        #expect(metrics.body.contains("lossd_invalid_records_total 1"))
        let meanLine = try #require(
            metrics.body.split(separator: "\n").first {
                $0.hasPrefix("lossd_loss_mean{") && $0.contains(#"component="loss""#)
            })
        #expect(isClose(Double(meanLine.split(separator: " ").last ?? ""), 17.0 / 6))

        let health = try await HTTPGet.fetch(port: running.httpPort, path: "/healthz")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")
        let missing = try await HTTPGet.fetch(port: running.httpPort, path: "/nothing")
        #expect(missing.status == 404)

        try await running.shutdown()
        let snapshots = try String(
            contentsOfFile: folder.appendingPathComponent("snapshots.jsonl").path, encoding: .utf8)
        let last = try #require(snapshots.split(separator: "\n").last)
        let final = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(final["records"] as? Int == 5)
    }

    @Test("a restart from the state file keeps the statistics; shutdown counts the gaps as lost")
    func restartKeepsState() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await Running(settings: try settings(folder: folder, state: true))
        try await push(
            [0, 1, 3].map { Records.loss(source: "rank0", seq: $0, batch: 2, loss: Double($0)).jsonLine() },
            to: first.input)
        _ = try await waitForStats(port: first.httpPort) { ($0["records"] as? Int) == 3 }
        try await first.shutdown()
        let saved = first.daemon.aggregator.snapshot(at: 0)
        #expect(saved.source(run: "r", source: "rank0")?.lost == 1)  // seq 2, at shutdown

        let second = try await Running(settings: try settings(folder: folder, state: true))
        let restored = second.daemon.aggregator.snapshot(at: 0)
        #expect(restored.records == 3)
        #expect(restored.splits.first?.batches == 3)
        #expect(isClose(restored.splits.first?.loss.mean, 4.0 / 3))
        try await push([Records.loss(source: "rank0", seq: 2, batch: 2, loss: 8).jsonLine()], to: second.input)
        let stats = try await waitForStats(port: second.httpPort) { ($0["records"] as? Int) == 4 }
        let source = try #require((stats["sources"] as? [[String: Any]])?.first)
        #expect(source["lost"] as? Int == 0)
        #expect(source["late"] as? Int == 1)
        try await second.shutdown()
    }

    @Test("a port already in use stops the daemon with an error naming the endpoint")
    func inputInUse() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let context = try Context()
        let blocker = try Socket(context, type: .pull)
        defer { blocker.close() }
        try blocker.bind("tcp://127.0.0.1:*")
        let taken = try #require(try blocker.lastEndpoint())
        var settings = try settings(folder: folder)
        settings.input = [try Endpoint(role: .bind, address: taken)]
        let daemon = try AggregatorDaemon(settings: settings, logger: Logger(label: "test"))
        await #expect(throws: AggregatorError.self) { try await daemon.run() }
    }
}

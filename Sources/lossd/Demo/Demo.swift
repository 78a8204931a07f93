import Foundation
import Logging
import LossAggregator
import LossPipeline
import LossSynthesis
import ServiceLifecycle
import SSDLoss
import Synchronization
import ZeroMQ

/// What `lossd demo` runs.
struct DemoSettings: Sendable {
    /// How long the trainers send.
    var duration: Duration = .seconds(15)
    /// Built-in trainers, each its own run.
    var trainers: Int = 2
    /// The batches they send.
    var shape = BatchShape(batch: 8, boxes: 8732, classes: 21)
    /// Their tensor layout.
    var layout: Layout = .keras
    /// Their scalar type.
    var dtype: ScalarType = .float32
    /// Time between two batches of one trainer (a training step's pace).
    var interval: Duration = .milliseconds(100)
    /// The sidecar's worker threads.
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Where the aggregator's HTTP server listens.
    var http = HTTPAddress(host: "127.0.0.1", port: 9180)

    /// The defaults: two SSD300-like trainers for 15 seconds.
    init() {}
}

/// How a demo ended.
struct DemoSummary: Sendable {
    /// The aggregator's last figures.
    var snapshot: AggregatorSnapshot
    /// Batches the trainers sent.
    var sent: Int
    /// The sidecar's counts.
    var sidecar: SidecarReport
    /// Wall time.
    var elapsed: Duration
    /// The first loss each run reported, to show how far it fell.
    var firstLoss: [String: Double]
}

/// `lossd demo`: `lossd serve` plus built-in synthetic trainers pushing over tcp loopback, with
/// a live table of the running averages.
struct Demo: Sendable {
    /// What to run.
    var settings: DemoSettings
    private let logger: Logger

    /// Creates a demo.
    init(settings: DemoSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Runs the demo; `print` receives whole chunks of text for standard output.
    ///
    /// - Parameter live: Redraw the table in place (a terminal) instead of printing plain lines.
    func run(live: Bool, print: @escaping @Sendable (String) -> Void) async throws -> DemoSummary {
        let started = ContinuousClock.now
        var sidecarSettings = SidecarSettings()
        sidecarSettings.input = [try Endpoint(role: .bind, address: "tcp://127.0.0.1:*")]
        sidecarSettings.workers = settings.workers
        sidecarSettings.statusInterval = .zero
        var aggregatorSettings = AggregatorSettings()
        aggregatorSettings.http = settings.http
        aggregatorSettings.input = []
        let httpPort = Mutex<Int?>(nil)
        let server = try LossServer(sidecar: sidecarSettings, aggregator: aggregatorSettings, logger: logger) { port in
            httpPort.withLock { $0 = port }
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: server.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let ended = Latch<Void>()
        let running = Task {
            defer { ended.open() }
            try await group.run()
        }

        // Wait for the sockets and the HTTP port (or for the group to fail).
        while server.sidecar.inputEndpoint == nil || httpPort.withLock({ $0 }) == nil {
            try await Task.sleep(for: .milliseconds(20))
            if started.duration(to: .now) > .seconds(20) {
                await group.triggerGracefulShutdown()
                _ = try? await running.value
                throw DemoError.didNotStart
            }
        }
        let input = server.sidecar.inputEndpoint ?? ""
        let url = "http://\(settings.http.host):\(httpPort.withLock { $0 } ?? settings.http.port)/"
        print("lossd demo: \(settings.trainers) trainers → sidecar on \(input) → aggregator\n"
            + "dashboard: \(url)   stats: \(url)stats   metrics: \(url)metrics   (Ctrl-C stops early)\n\n")

        let context = try Context()
        var trainers: [DemoTrainer] = []
        for index in 0..<settings.trainers {
            let spec = SyntheticBatchSpec(
                shape: settings.shape, layout: settings.layout, dtype: settings.dtype,
                seed: UInt64(index + 1), run: "demo-\(index + 1)", split: "train", source: "trainer-\(index + 1)",
                halfLifeSteps: 250 * Double(index + 1))
            trainers.append(try DemoTrainer(
                name: "demo-trainer-\(index + 1)", generator: SyntheticBatchGenerator(spec: spec), endpoint: input,
                context: context, interval: settings.interval, stepsPerBatch: 10, batchesPerEpoch: 50))
        }

        var drawn = 0
        var lastPlain = ContinuousClock.now
        let firstLoss = Mutex<[String: Double]>([:])
        while started.duration(to: .now) < settings.duration + .milliseconds(300), !ended.isOpen {
            try await Task.sleep(for: .milliseconds(500))
            let snapshot = server.daemon.aggregator.snapshot()
            firstLoss.withLock { seen in
                for split in snapshot.splits where seen[split.run] == nil { seen[split.run] = split.loss.mean }
            }
            let elapsed = started.duration(to: .now) / .seconds(1)
            if live {
                let title = String(format: "%.1f s of %.0f s", elapsed, settings.duration / .seconds(1))
                let lines = LiveTable.lines(snapshot, title: title)
                print(LiveTable.redraw(lines, previous: drawn))
                drawn = lines.count
            } else if lastPlain.duration(to: .now) >= .seconds(2) {
                lastPlain = .now
                print(LiveTable.plainLines(snapshot, elapsed: elapsed).joined(separator: "\n") + "\n")
            }
        }

        var sent = 0
        for trainer in trainers { sent += (try? trainer.stop()) ?? 0 }
        // Every batch handed to a trainer's socket is on its way: let the sidecar take them all
        // before it stops receiving (unless a signal already stopped it).
        let drainStarted = ContinuousClock.now
        while server.sidecar.report.received < sent, !ended.isOpen, drainStarted.duration(to: .now) < .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        try await running.value
        return DemoSummary(
            snapshot: server.daemon.aggregator.snapshot(), sent: sent, sidecar: server.sidecar.report,
            elapsed: started.duration(to: .now), firstLoss: firstLoss.withLock { $0 })
    }
}

/// Why a demo could not run.
enum DemoError: Error, CustomStringConvertible, Sendable {
    /// The sidecar or the HTTP server did not come up in time.
    case didNotStart

    var description: String {
        "the demo's sidecar or HTTP server did not start within 20 s; is port 9180 in use? Try --http 127.0.0.1:0"
    }
}

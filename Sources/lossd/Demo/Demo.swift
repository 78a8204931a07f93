import Foundation
import Logging
import LossAggregator
import LossPipeline
import LossSynthesis
import SSDLoss
import ServiceLifecycle
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
///
/// Its ``services`` are those of ``LossServer`` followed by the trainers' driver. The driver waits
/// until the sidecar takes batches and HTTP answers (told by their callbacks), runs the trainers
/// for the settings' duration while it redraws the table, waits until the sidecar has received
/// every batch sent, and returns; its return shuts the other services down gracefully, in reverse
/// order. A signal (a graceful shutdown) ends the trainers early the same way.
final class Demo: Sendable {
    /// What runs.
    let settings: DemoSettings
    /// The sidecar and aggregator the trainers push to.
    let server: LossServer
    private let driver: DemoDriver
    private let started = ContinuousClock.now

    /// Assembles the demo; nothing binds or runs until the services run.
    ///
    /// - Parameters:
    ///   - live: Redraw the table in place (a terminal) instead of printing plain lines.
    ///   - print: Receives whole chunks of text for standard output.
    init(settings: DemoSettings, logger: Logger, live: Bool, print: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        var sidecarSettings = SidecarSettings()
        sidecarSettings.input = [try Endpoint(role: .bind, address: "tcp://127.0.0.1:*")]
        sidecarSettings.workers = settings.workers
        sidecarSettings.statusInterval = .zero
        var aggregatorSettings = AggregatorSettings()
        aggregatorSettings.http = settings.http
        aggregatorSettings.input = []
        let sidecarListening = Latch<String>()
        let httpListening = Latch<Int>()
        server = try LossServer(
            sidecar: sidecarSettings, aggregator: aggregatorSettings, logger: logger,
            onSidecarListening: { sidecarListening.open($0 ?? "") },
            onHTTPListening: { httpListening.open($0) })
        driver = DemoDriver(
            settings: settings, server: server, sidecarListening: sidecarListening, httpListening: httpListening,
            live: live, print: print)
    }

    /// The services to run, in start order: the server's, then the trainers' driver.
    var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        server.services + [.init(service: driver, successTerminationBehavior: .gracefullyShutdownGroup)]
    }

    /// How the demo ended; read it once the services have stopped.
    var summary: DemoSummary {
        DemoSummary(
            snapshot: server.daemon.aggregator.snapshot(), sent: driver.sent, sidecar: server.sidecar.report,
            elapsed: started.duration(to: .now), firstLoss: driver.firstLoss)
    }
}

/// The demo's own service: starts the trainers once the server is up, shows the table, stops them.
private final class DemoDriver: Service, Sendable, CustomStringConvertible {
    let settings: DemoSettings
    let server: LossServer
    let sidecarListening: Latch<String>
    let httpListening: Latch<Int>
    let live: Bool
    let print: @Sendable (String) -> Void
    private let progress = Mutex<(sent: Int, firstLoss: [String: Double])>((0, [:]))

    init(
        settings: DemoSettings, server: LossServer, sidecarListening: Latch<String>, httpListening: Latch<Int>,
        live: Bool, print: @escaping @Sendable (String) -> Void
    ) {
        self.settings = settings
        self.server = server
        self.sidecarListening = sidecarListening
        self.httpListening = httpListening
        self.live = live
        self.print = print
    }

    var description: String { "DemoTrainers" }

    /// Batches the trainers sent.
    var sent: Int { progress.withLock { $0.sent } }
    /// The first loss each run reported.
    var firstLoss: [String: Double] { progress.withLock { $0.firstLoss } }

    func run() async throws {
        let sidecarListening = self.sidecarListening, httpListening = self.httpListening
        let input: String, port: Int
        do {
            // A signal or a failing service before both are up ends the demo before it starts.
            (input, port) = try await cancelWhenGracefulShutdown {
                (try await sidecarListening.wait(), try await httpListening.wait())
            }
        } catch is CancellationError {
            return
        }
        let started = ContinuousClock.now
        let url = "http://\(settings.http.host):\(port)/"
        print(
            "lossd demo: \(settings.trainers) trainers → sidecar on \(input) → aggregator\n"
                + "dashboard: \(url)   stats: \(url)stats   metrics: \(url)metrics   (Ctrl-C stops early)\n\n")

        let context = try Context()
        var trainers: [DemoTrainer] = []
        for index in 0..<settings.trainers {
            let spec = SyntheticBatchSpec(
                shape: settings.shape, layout: settings.layout, dtype: settings.dtype,
                seed: UInt64(index + 1), run: "demo-\(index + 1)", split: "train", source: "trainer-\(index + 1)",
                halfLifeSteps: 250 * Double(index + 1))
            trainers.append(
                try DemoTrainer(
                    name: "demo-trainer-\(index + 1)", generator: SyntheticBatchGenerator(spec: spec), endpoint: input,
                    context: context, interval: settings.interval, stepsPerBatch: 10, batchesPerEpoch: 50))
        }

        // The table is redrawn every half second until the time is up or a signal stops the demo.
        var drawn = 0
        var lastPlain = ContinuousClock.now
        while started.duration(to: .now) < settings.duration + .milliseconds(300),
            !Task.isShuttingDownGracefully, !Task.isCancelled
        {
            try? await Task.sleep(for: .milliseconds(500))
            let snapshot = server.daemon.aggregator.snapshot()
            progress.withLock { progress in
                for split in snapshot.splits where progress.firstLoss[split.run] == nil {
                    progress.firstLoss[split.run] = split.loss.mean
                }
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
        for trainer in trainers { sent += (try? await trainer.stop()) ?? 0 }
        progress.withLock { $0.sent = sent }
        // Every batch handed to a trainer's socket is on its way: let the sidecar take them all
        // before it stops receiving (within 10 s, and unless the demo is being cancelled).
        let drainStarted = ContinuousClock.now
        while server.sidecar.report.received < sent, !Task.isCancelled, drainStarted.duration(to: .now) < .seconds(10) {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

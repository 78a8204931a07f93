import ArgumentParser
import Foundation
import Logging
import LossAggregator
import LossPipeline
import SSDLoss

/// `lossd demo`: see lossd work in one command.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract:
            """
            Watch lossd work: built-in trainers push SSD batches to lossd serve; a live table shows the running \
            averages.
            """,
        discussion: """
            Starts lossd serve (a sidecar and an aggregator in one process) and --trainers \
            synthetic trainers that push SSD300-like batches over tcp loopback with the real wire \
            protocol, one batch every --interval-ms, with predictions that improve so the loss \
            falls. While it runs, the running averages per run are redrawn in place (plain \
            periodic lines when standard output is not a terminal), and the aggregator's HTTP \
            endpoints answer at the printed address. It ends with a summary after --seconds.

            Examples:
              lossd demo
              lossd demo --seconds 60 --trainers 3
              lossd demo --layout compact --dtype float16 --boxes 24564 --classes 81
            """
    )

    @Option(help: "How long the trainers send.")
    var seconds: Double = 15

    @Option(help: "Built-in trainers, each a run of its own.")
    var trainers: Int = 2

    @Option(help: "Images per batch.")
    var batch: Int = 8

    @Option(help: "Boxes per image (SSD300: 8732, SSD512: 24564).")
    var boxes: Int = 8732

    @Option(help: "Classes, background included (VOC: 21, COCO: 81).")
    var classes: Int = 21

    @Option(help: "Tensor layout: keras or compact.")
    var layout: Layout = .keras

    @Option(help: "Scalar type: float32, float16, bfloat16 or float64.")
    var dtype: ScalarType = .float32

    @Option(help: "Milliseconds between two batches of one trainer.")
    var intervalMs: Int = 100

    @Option(help: "The sidecar's worker threads (default: the number of cores).")
    var workers: Int?

    @Option(help: "The aggregator's HTTP address, host:port (port 0: any free port).")
    var http: String = "127.0.0.1:9180"

    @Option(
        help: "Log level for lossd's own messages: trace … critical (default warning, so they do not break the table).")
    var logLevel: String = "warning"

    func validate() throws {
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be in 0…86400.") }
        guard (1...32).contains(trainers) else { throw ValidationError("--trainers must be 1 to 32.") }
        guard batch >= 1, boxes >= 1, classes >= 2 else {
            throw ValidationError("--batch and --boxes must be at least 1, --classes at least 2.")
        }
        guard intervalMs >= 0 else { throw ValidationError("--interval-ms must be 0 or more.") }
        guard workers.map({ $0 >= 1 }) ?? true else { throw ValidationError("--workers must be at least 1.") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level takes one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }

    func run() async throws {
        var settings = DemoSettings()
        settings.duration = .milliseconds(Int64(seconds * 1000))
        settings.trainers = trainers
        settings.shape = BatchShape(batch: batch, boxes: boxes, classes: classes)
        settings.layout = layout
        settings.dtype = dtype
        settings.interval = .milliseconds(intervalMs)
        if let workers { settings.workers = workers }
        do {
            settings.http = try HTTPAddress(parsing: http)
        } catch {
            throw ValidationError("--http: \(error.reason)")
        }
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "lossd.demo")
        logger.logLevel = level
        let demo: Demo
        do {
            demo = try Demo(settings: settings, logger: logger, live: Terminal.standardOutputIsTerminal) { text in
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        try await ServiceRunner.run(demo.services, logger: logger)
        let summary = demo.summary
        print(DemoReport.summary(summary))
    }
}

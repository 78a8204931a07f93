import ArgumentParser
import Foundation
import LossBench
import LossSynthesis
import LossWire
import SSDLoss

/// `lossd bench replay`: `lossd replay` against a page-cache read of the file plus the kernel.
struct ReplayBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Time lossd replay of a recording against reading it from the page cache plus the loss kernel.",
        discussion: """
            Writes a recording of --count synthetic batches into --directory (or replays --file), \
            reads it once so that it is in the page cache, then alternates: a plain read() of the \
            file into a 1 MiB buffer, the loss kernel on every batch on one thread, and a replay \
            with each --workers count (records encoded and written to /dev/null). The ratio is the \
            replay's time over read + kernel, the median of each repetition's ratio. Targets: \
            ≤ 1.5 × the floor, and faster with 2 workers than with 1.

            Examples:
              lossd bench replay
              lossd bench replay --recording-version 1
              lossd bench replay --file run.lossrec --workers 1 --workers 2 --workers 4
            """
    )

    @Option(help: "The batch shape as B,N,C.", transform: BatchShape.parse)
    var shape: BatchShape = BatchShape(batch: 32, boxes: 8732, classes: 21)

    @Option(help: "Batches in the generated recording.")
    var count: Int = 16

    @Option(help: "The generated recording's format version: 1 or 2.")
    var recordingVersion: RecordingFormat.Version = RecordingFormat.currentVersion

    @Option(help: "Where the recording is written (and removed afterwards).")
    var directory: String = FileManager.default.temporaryDirectory.path

    @Option(help: "Replay this recording instead of generating one.", completion: .file(extensions: ["lossrec"]))
    var file: String?

    @Option(help: "Worker counts to replay with (repeatable).")
    var workers: [Int] = [1, 2]

    @Option(name: .customLong("repeat"), help: "Timed repetitions of floor and replays.")
    var repetitions: Int = 5

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard count >= 1, repetitions >= 1 else { throw ValidationError("--count and --repeat must be at least 1.") }
        guard workers.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--workers must be at least 1.") }
    }

    func run() throws {
        let benchmark = ReplayBenchmark(
            spec: SyntheticBatchSpec(shape: shape), count: count, version: recordingVersion, directory: directory,
            file: file, workers: workers, repetitions: repetitions)
        let result = try benchmark.run()
        print(json ? BenchReport.json(result) : BenchReport.table(result))
    }
}

/// `lossd bench record`: a sidecar with `--record` against itself without it and the disk.
struct RecordBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Time a sidecar with --record against the same sidecar without it and a disk write of the bytes.",
        discussion: """
            Sends one synthetic message --messages times over tcp loopback to a real sidecar, \
            alternating: without --record, with --record into a new file in --directory (timed \
            to the last record and the last message written), and two sequential writes of the \
            same bytes into the same folder, buffered and not synced, like the recorder: plain \
            write() calls as dd makes them, and the same with the recorder's write-behind. The \
            faster write is the disk's speed. Files are removed after each run. The ratio is the \
            batches/s with --record over the lesser of the sidecar's without it and the disk's, \
            the median of each repetition's ratio. Target: ≥ 0.8.

            Examples:
              lossd bench record
              lossd bench record --directory /data --recording-version 1
              lossd bench record --layout compact --dtype float16 --messages 60
            """
    )

    @Option(help: "The batch shape as B,N,C.", transform: BatchShape.parse)
    var shape: BatchShape = BatchShape(batch: 32, boxes: 8732, classes: 21)

    @Option(help: "Scalar type: float32, float16, bfloat16 or float64.")
    var dtype: ScalarType = .float32

    @Option(help: "Tensor layout: keras or compact.")
    var layout: Layout = .keras

    @Option(help: "Messages per timed run.")
    var messages: Int = 30

    @Option(help: "Sidecar worker threads (default: the number of cores).")
    var workers: Int = Terminal.cores

    @Option(help: "The recording's format version: 1 or 2.")
    var recordingVersion: RecordingFormat.Version = RecordingFormat.currentVersion

    @Option(help: "Where the recordings and the floor's file are written (and removed after each run).")
    var directory: String = FileManager.default.temporaryDirectory.path

    @Option(name: .customLong("repeat"), help: "Timed repetitions of each run.")
    var repetitions: Int = 3

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard messages >= 1, repetitions >= 1, workers >= 1 else {
            throw ValidationError("--messages, --workers and --repeat must be at least 1.")
        }
    }

    func run() async throws {
        let benchmark = RecordBenchmark(
            spec: SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype), messages: messages, workers: workers,
            version: recordingVersion, directory: directory, repetitions: repetitions)
        let result = try await benchmark.run()
        print(json ? BenchReport.json(result) : BenchReport.table(result))
    }
}

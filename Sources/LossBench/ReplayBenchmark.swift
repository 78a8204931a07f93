import Foundation
import LossPipeline
public import LossSynthesis
public import LossWire
public import SSDLoss

/// Times `lossd replay` of a recording against its floor: reading the file from the page cache
/// plus the loss kernel on its batches, both measured in the same run.
///
/// Each repetition, in alternating order: a plain `read` of the whole file into a reused 1 MiB
/// buffer (what `dd` does; the file is in the page cache, read once before timing), the loss
/// kernel on every batch of the file on one thread (decoded beforehand, views of the mapped file),
/// and a replay (``Replayer``, records encoded as JSON Lines to `/dev/null`) with each worker count.
/// A ratio is the median over repetitions of the replay's time over the sum of the two floors taken
/// in the same repetition; the speed-up of more workers is taken pair by pair the same way.
public struct ReplayBenchmark: Sendable {
    /// The batch the generated recording repeats (with the step, as `lossd synth` does).
    public var spec: SyntheticBatchSpec
    /// Batches in the generated recording.
    public var count: Int
    /// The generated recording's format version.
    public var version: RecordingFormat.Version
    /// The folder that holds the generated recording (removed at the end).
    public var directory: String
    /// An existing recording to replay instead of generating one (kept).
    public var file: String?
    /// The worker counts to replay with.
    public var workers: [Int]
    /// Timed repetitions.
    public var repetitions: Int

    /// Creates a benchmark; by default 16 SSD300 batches (B=32, N=8732, C=21, keras float32,
    /// 1.18 GB) in the temporary folder, replayed with 1 and 2 workers.
    public init(
        spec: SyntheticBatchSpec = SyntheticBatchSpec(shape: BatchShape(batch: 32, boxes: 8732, classes: 21)),
        count: Int = 16, version: RecordingFormat.Version = RecordingFormat.currentVersion,
        directory: String? = nil, file: String? = nil,
        workers: [Int] = [1, 2], repetitions: Int = 5
    ) {
        self.spec = spec
        self.count = max(1, count)
        self.version = version
        self.directory = directory ?? FileManager.default.temporaryDirectory.path
        self.file = file
        self.workers = workers.isEmpty ? [1] : workers.map { max(1, $0) }
        self.repetitions = max(1, repetitions)
    }

    /// The measured figures.
    public struct Result: Sendable {
        /// The benchmark that was run.
        public var benchmark: ReplayBenchmark
        /// The recording replayed.
        public var path: String
        /// Its format version.
        public var version: RecordingFormat.Version
        /// Its size in bytes.
        public var fileBytes: Int
        /// The records in it.
        public var batches: Int
        /// Seconds of each plain read of the file.
        public var read: Timings
        /// Seconds of the loss kernel over every batch, on one thread.
        public var kernel: Timings
        /// Seconds of each replay, by worker count (in ``ReplayBenchmark/workers`` order).
        public var replays: [(workers: Int, times: Timings)]

        /// The floor of each repetition: its read plus its kernel.
        public var floor: Timings {
            var sums = Timings()
            for (read, kernel) in zip(read.samples, kernel.samples) { sums.add(.seconds(read + kernel)) }
            return sums
        }

        /// The replay with `workers` threads over the floor, the median of the repetitions' ratios.
        public func ratio(workers: Int) -> Double? {
            replays.first { $0.workers == workers }.map { $0.times.medianRatio(to: floor) }
        }

        /// How much faster `more` workers replay than `fewer`, the median of the repetitions' ratios.
        public func speedup(from fewer: Int, to more: Int) -> Double? {
            guard let slow = replays.first(where: { $0.workers == fewer }),
                let fast = replays.first(where: { $0.workers == more })
            else { return nil }
            return slow.times.medianRatio(to: fast.times)
        }

        /// The file's size over the median time of a plain read, in GB/s.
        public var readGigabytesPerSecond: Double { Double(fileBytes) / read.median / 1e9 }
    }

    /// Makes (or opens) the recording and times floors and replays.
    @available(*, noasync, message: "run() blocks for the whole benchmark; call it from a thread of its own")
    public func run() throws -> Result {
        let path: String
        if let file {
            path = file
        } else {
            path = "\(directory)/lossd-bench-replay-\(UUID().uuidString.prefix(8)).lossrec"
            try write(to: path)
        }
        defer { if file == nil { FileFloors.remove(path) } }

        let reader = try openReader(path)
        let version = reader.version
        let kernelBatches = try KernelFloor(reader: reader)
        let fileBytes = try FileFloors.sequentialRead(path)  // and now it is in the page cache
        var read = Timings(), kernel = Timings()
        var replays = workers.map { (workers: $0, times: Timings()) }
        _ = try kernelBatches.run()  // the workspace grows and the map's pages are mapped once, untimed
        for repetition in 0..<repetitions {
            var steps: [() throws -> Void] = [
                { _ = try read.measure { try FileFloors.sequentialRead(path) } },
                { try kernel.add(kernelBatches.run()) },
            ]
            for index in replays.indices {
                steps.append { replays[index].times.add(try replay(path, workers: replays[index].workers)) }
            }
            if repetition % 2 == 1 { steps.reverse() }
            for step in steps { try step() }
        }
        return Result(
            benchmark: self, path: path, version: version, fileBytes: fileBytes, batches: kernelBatches.count,
            read: read, kernel: kernel, replays: replays)
    }

    /// Writes `count` synthetic batches to `path`, as `lossd synth` does.
    private func write(to path: String) throws {
        let generator = SyntheticBatchGenerator(spec: spec)
        let writer = try RecordingWriter(path: path, version: version)
        for index in 0..<count {
            try writer.append(generator.message(step: 10 * index, seq: index, receiveTimeNs: UInt64(index + 1)))
        }
        try writer.close()
    }

    private func openReader(_ path: String) throws -> RecordingReader {
        try RecordingReader(path: path, limits: WireLimits(maxMessageBytes: Int.max))
    }

    /// One replay of `path` with `workers` threads; its duration.
    private func replay(_ path: String, workers: Int) throws -> Duration {
        let processor = BatchProcessor(limits: WireLimits(maxMessageBytes: Int.max))
        let replayer = Replayer(options: ReplayOptions(files: [path], workers: workers, processor: processor))
        let sink = try JSONLinesSink(path: "/dev/null")
        let started = ContinuousClock.now
        let outcome = replayer.run(sink: sink)
        try sink.close()
        let duration = started.duration(to: .now)
        guard outcome.isComplete, outcome.summary.computed == outcome.files.first?.records else {
            throw BenchError.invalidRun(
                "the replay of \(path) with \(workers) workers wrote \(outcome.summary.computed) loss records; "
                    + (outcome.files.first?.damage?.message ?? outcome.outputError ?? "not every batch was computed"))
        }
        return duration
    }
}

/// The kernel's share of a replay: every batch of a recording decoded once, then computed on one
/// thread with one workspace, as a replay's worker does.
private final class KernelFloor {
    private let batches: [DecodedBatch]
    private let messages: [WireMessage]
    private let workspace = LossWorkspace()
    private(set) var loss = 0.0

    var count: Int { batches.count }

    init(reader: RecordingReader) throws {
        var messages: [WireMessage] = []
        while let message = try reader.next() { messages.append(message) }
        self.messages = messages
        batches = try messages.map { try BatchDecoder.decode($0, defaults: LossParameters(), limits: reader.limits) }
    }

    /// Computes every batch; the time the kernel took.
    func run() throws -> Duration {
        let started = ContinuousClock.now
        for batch in batches {
            let kernel = MultiBoxLoss(parameters: batch.parameters)
            loss += try batch.withInput {
                try kernel.compute($0, shape: batch.shape, dtype: batch.dtype, workspace: workspace).loss
            }
        }
        return started.duration(to: .now)
    }
}

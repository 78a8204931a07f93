import Foundation
import LossPipeline
public import LossSynthesis
public import LossWire
public import SSDLoss
import ZeroMQ

/// Times a sidecar with `--record` against the lesser of its own speed without `--record` and the
/// file system's sequential write speed, all three measured in the same run.
///
/// Each repetition, in alternating order: the sidecar without a recording, the sidecar recording
/// into a new file in ``directory`` (its time runs to the last record and the last message
/// written), and two sequential writes of the same messages' bytes into a new file in the same
/// folder (``FileFloors/sequentialWrite(_:message:count:writeBehind:)``): a plain one, as `dd`
/// does, and one that keeps the page cache as the recorder does (``WriteBehind``). The disk's
/// speed is the faster of the two. The sidecar runs are those of ``PipelineBenchmark`` (a PUSH
/// thread in this process, tcp loopback). Files are removed after each run. Nothing syncs: the
/// recorder does not either.
public struct RecordBenchmark: Sendable {
    /// The batch sent.
    public var spec: SyntheticBatchSpec
    /// Messages per timed run.
    public var messages: Int
    /// The sidecar's worker threads.
    public var workers: Int
    /// The recording's format version.
    public var version: RecordingFormat.Version
    /// Where the recordings and the floor's files are written.
    public var directory: String
    /// Timed repetitions of each of the four runs.
    public var repetitions: Int

    /// Creates a benchmark; by default 30 SSD300 batches (74 MB each) per run, in the temporary folder.
    public init(
        spec: SyntheticBatchSpec = SyntheticBatchSpec(shape: BatchShape(batch: 32, boxes: 8732, classes: 21)),
        messages: Int = 30, workers: Int = 2, version: RecordingFormat.Version = RecordingFormat.currentVersion,
        directory: String? = nil, repetitions: Int = 3
    ) {
        self.spec = spec
        self.messages = max(1, messages)
        self.workers = max(1, workers)
        self.version = version
        self.directory = directory ?? FileManager.default.temporaryDirectory.path
        self.repetitions = max(1, repetitions)
    }

    /// The measured figures.
    public struct Result: Sendable {
        /// The benchmark that was run.
        public var benchmark: RecordBenchmark
        /// Seconds per run of the sidecar without a recording.
        public var sidecar: Timings
        /// Seconds per run of the sidecar recording every message.
        public var recording: Timings
        /// Seconds per plain sequential write of the same messages' bytes.
        public var write: Timings
        /// Seconds per sequential write of the same bytes that keeps the page cache as the recorder does.
        public var writeBehind: Timings
        /// Bytes of one message.
        public var messageBytes: Int
        /// Bytes of the last recording (file header and record framing included).
        public var recordingBytes: Int

        private func perSecond(_ seconds: Double) -> Double { Double(benchmark.messages) / seconds }
        /// Median batches per second of the sidecar without a recording.
        public var sidecarBatchesPerSecond: Double { perSecond(sidecar.median) }
        /// Median batches per second of the sidecar with a recording.
        public var recordingBatchesPerSecond: Double { perSecond(recording.median) }
        /// Median batches per second of the plain write.
        public var writeBatchesPerSecond: Double { perSecond(write.median) }
        /// Median batches per second of the write that keeps the page cache as the recorder does.
        public var writeBehindBatchesPerSecond: Double { perSecond(writeBehind.median) }
        /// A median write speed in MB/s.
        public func megabytesPerSecond(_ times: Timings) -> Double {
            Double(messageBytes * benchmark.messages) / times.median / 1e6
        }

        /// Batches/s with a recording over the lesser of batches/s without one and of the disk
        /// (the faster of the two writes), repetition by repetition; the median of those ratios.
        public var ratio: Double {
            var ratios = Timings()
            let runs = [sidecar.samples, write.samples, writeBehind.samples, recording.samples]
            for index in 0..<(runs.map(\.count).min() ?? 0) {
                // Times, not rates: the disk takes the shorter write; the floor is the longer of
                // that and the sidecar's time without a recording.
                let floor = max(sidecar.samples[index], min(write.samples[index], writeBehind.samples[index]))
                ratios.add(.seconds(floor / recording.samples[index]))
            }
            return ratios.median
        }
    }

    /// Times the four runs alternately.
    public func run() async throws -> Result {
        let message = SyntheticBatchGenerator(spec: spec).message(step: 100)
        let pipeline = PipelineBenchmark(spec: spec, messages: messages, workers: workers, repetitions: 1)
        var sidecar = Timings(), recording = Timings(), write = Timings(), writeBehind = Timings()
        var recordingBytes = 0
        for repetition in 0..<repetitions {
            let path = "\(directory)/lossd-bench-record-\(UUID().uuidString.prefix(8))"
            defer {
                FileFloors.remove(path + ".lossrec")
                FileFloors.remove(path + ".bytes")
            }
            var steps: [Step] = [.sidecar, .recording, .write, .writeBehind]
            if repetition % 2 == 1 { steps.reverse() }
            for step in steps {
                switch step {
                case .sidecar:
                    let (duration, losses) = try await pipeline.timeSidecar(message)
                    try check(losses)
                    sidecar.add(duration)
                case .recording:
                    let (duration, losses) = try await pipeline.timeSidecar(
                        message, recording: (path + ".lossrec", version))
                    try check(losses)
                    recording.add(duration)
                    let recorded = path + ".lossrec"
                    recordingBytes = try await SocketThread<Int>.run(name: "bench-check") {
                        try recordedBytes(recorded)
                    }
                    FileFloors.remove(recorded)
                case .write, .writeBehind:
                    let policy = step == .write ? nil : WriteBehind(window: Sidecar.recordingPageCacheWindow)
                    let (bytes, count) = (path + ".bytes", messages)
                    // Blocking writes: on a thread of their own, not on the concurrency pool.
                    let duration = try await SocketThread<Duration>.run(name: "bench-write") {
                        let started = ContinuousClock.now
                        _ = try FileFloors.sequentialWrite(bytes, message: message, count: count, writeBehind: policy)
                        return started.duration(to: .now)
                    }
                    if step == .write { write.add(duration) } else { writeBehind.add(duration) }
                    FileFloors.remove(bytes)
                }
            }
        }
        return Result(
            benchmark: self, sidecar: sidecar, recording: recording, write: write, writeBehind: writeBehind,
            messageBytes: message.totalBytes, recordingBytes: recordingBytes)
    }

    private enum Step { case sidecar, recording, write, writeBehind }

    private func check(_ losses: Int) throws {
        guard losses == messages else {
            throw BenchError.invalidRun("the sidecar produced \(losses) loss records for \(messages) batches")
        }
    }

    /// The size of the recording at `path`, once it has been checked to hold every message.
    private func recordedBytes(_ path: String) throws -> Int {
        let reader = try RecordingReader(path: path, limits: WireLimits(maxMessageBytes: Int.max))
        var records = 0
        while try reader.nextRecord() != nil { records += 1 }
        guard records == messages else {
            throw BenchError.invalidRun("the recording holds \(records) of the \(messages) messages")
        }
        return Int(reader.byteOffset)
    }

    /// Waits until `sidecar` has written `count` messages to its recording (at most a minute).
    static func waitUntilRecorded(_ count: Int, by sidecar: Sidecar) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while sidecar.report.recorded < count {
            guard ContinuousClock.now < deadline else {
                throw BenchError.invalidRun("the recording took \(sidecar.report.recorded) of \(count) messages")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

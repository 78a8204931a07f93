import Foundation
public import LossWire
import SSDLoss

/// How fast a replay feeds recorded messages to the workers.
public enum ReplayPace: String, Sendable, CaseIterable {
    /// As fast as the workers take them.
    case max
    /// With the gaps between the recorded receive times.
    case realtime
}

/// Options of a replay.
public struct ReplayOptions: Sendable {
    /// The recordings, read one after the other.
    public var files: [String]
    /// The number of worker threads.
    public var workers: Int
    /// The most messages in flight at once (read, not yet written out).
    public var queueDepth: Int
    /// How fast to feed messages.
    public var pace: ReplayPace
    /// Computes each message.
    public var processor: BatchProcessor

    /// Creates options; `queueDepth` defaults to twice the workers.
    public init(
        files: [String], workers: Int, queueDepth: Int? = nil, pace: ReplayPace = .max, processor: BatchProcessor
    ) {
        self.files = files
        self.workers = max(1, workers)
        self.queueDepth = queueDepth ?? 2 * max(1, workers)
        self.pace = pace
        self.processor = processor
    }
}

/// Reads recordings, verifies and computes every message on a worker pool and writes the records
/// in order.
///
/// The reading thread only checks each record's framing (``RecordingReader/nextRecord()``: for
/// version 2 the header's own CRC-32C) and hands the record, a view of the memory-mapped file, to
/// the pool; each worker verifies the payload's checksum (``RecordedMessage/verify()``) and then
/// computes the loss over the same bytes, so checksums and losses run on every worker at once and
/// no byte is copied. The emitter writes the results in recording order; the first record that
/// fails its checksum ends its file there, exactly as a single-threaded reader would stop: the
/// records after it that were already in flight are dropped, and the reader moves to the next file.
public struct Replayer: Sendable {
    /// The options this replayer runs with.
    public var options: ReplayOptions

    /// Creates a replayer.
    public init(options: ReplayOptions) {
        self.options = options
    }

    /// What a finished replay reports.
    public struct Outcome: Sendable {
        /// The counts and means over every record written.
        public var summary: ReplaySummary
        /// One report per file, in the order given.
        public var files: [ReplayFileReport]
        /// The first write error, if writing the records failed.
        public var outputError: String?

        /// True when every file was read whole and every record was written.
        public var isComplete: Bool { outputError == nil && files.allSatisfy { $0.damage == nil } }
    }

    /// Runs the replay on the calling thread (reading) plus the pool's threads.
    ///
    /// A file that cannot be opened, is not a recording, or holds a damaged or truncated record
    /// ends that file's reading: the good records before the damage are processed, the problem is
    /// reported in the outcome, and the replay goes on with the next file.
    ///
    /// - Parameters:
    ///   - sink: Receives every record, in recording order. Only the pool's emitter thread touches
    ///     it until this method returns; the caller closes it afterwards.
    ///   - progress: Called on the reading thread about twice a second with the counts so far.
    /// - Returns: The summary and what happened to each file.
    @available(
        *, noasync, message: "run(sink:progress:) blocks until the replay ends; call it from a thread of its own"
    )
    public func run(sink: any RecordSink, progress: ((ReplayProgress) -> Void)? = nil) -> Outcome {
        let tally = Tally(sink: sink, files: options.files.count)
        let processor = options.processor
        let pool = OrderedWorkerPool<ReplayJob, ReplayResult>(
            name: "replay",
            workers: options.workers,
            capacity: options.queueDepth,
            makeWorker: {
                let workspace = LossWorkspace()
                return { job in
                    var result = ReplayResult(file: job.file, index: job.record.index, offset: job.record.offset)
                    // A record after its file's first damaged one is never written: skip its work.
                    guard !tally.endsBefore(file: result.file, index: result.index) else { return result }
                    do throws(RecordingError) {
                        try job.record.verify()
                        result.outcome = .record(processor.process(job.record.message, workspace: workspace))
                    } catch {
                        result.outcome = .damaged(error)
                    }
                    return result
                }
            },
            makeEmitter: { PoolEmitter(emit: { tally.emit($0) }) }
        )
        var readingProblems: [ReplayFileReport.Damage?] = []
        var state = ReplayProgress(startedAt: .now)
        var lastProgress = ContinuousClock.now
        for (file, path) in options.files.enumerated() {
            var problem: ReplayFileReport.Damage?
            do {
                let reader = try RecordingReader(path: path, limits: processor.limits)
                var pacer = Pacer(pace: options.pace)
                // Stops early once the emitter has found a record of this file damaged.
                while !tally.isDamaged(file: file) {
                    let record: RecordedMessage?
                    do {
                        record = try reader.nextRecord()
                    } catch {
                        problem = .init(offset: Int(reader.byteOffset), message: "\(error)")
                        break
                    }
                    guard let record else { break }
                    pacer.wait(for: record.message.receiveTimeNs)
                    pool.submit(ReplayJob(file: file, record: record))
                    state.messages += 1
                    state.bytes += record.message.totalBytes
                    if let progress, lastProgress.duration(to: .now) > .milliseconds(500) {
                        lastProgress = .now
                        state.written = pool.emittedCount
                        progress(state)
                    }
                }
            } catch {
                problem = .init(offset: 0, message: "\(error)")
            }
            readingProblems.append(problem)
        }
        pool.finish()
        if let progress {
            state.written = pool.emittedCount
            progress(state)
        }
        let reports = options.files.enumerated().map { file, path in
            // A damaged payload comes before whatever stopped the reader: it was handed out first.
            ReplayFileReport(
                path: path, records: tally.written(file: file),
                damage: tally.damage(file: file) ?? readingProblems[file])
        }
        return Outcome(summary: tally.summary, files: reports, outputError: tally.firstError)
    }
}

/// One record on its way through the pool, with the file it came from.
private struct ReplayJob: Sendable {
    var file: Int
    var record: RecordedMessage
}

/// What a worker made of a ``ReplayJob``: where the record lay, and its outcome.
private struct ReplayResult: Sendable {
    enum Outcome: Sendable {
        /// The record's checksum matched: its loss or error record.
        case record(ResultRecord)
        /// The record's checksum did not match.
        case damaged(RecordingError)
        /// The record follows a damaged one of its file: not verified, not computed.
        case skipped
    }

    var file: Int
    var index: Int
    var offset: UInt64
    var outcome = Outcome.skipped
}

/// Counts of a running replay, for a progress line.
public struct ReplayProgress: Sendable {
    /// When the replay started.
    public var startedAt: ContinuousClock.Instant
    /// Messages read so far.
    public var messages = 0
    /// Bytes of messages read so far.
    public var bytes = 0
    /// Records written so far.
    public var written = 0
}

/// Sleeps between messages so that they arrive with their recorded gaps.
private struct Pacer {
    let pace: ReplayPace
    var firstRecorded: UInt64?
    var firstReal = ContinuousClock.now

    init(pace: ReplayPace) { self.pace = pace }

    mutating func wait(for receiveTimeNs: UInt64) {
        guard pace == .realtime, receiveTimeNs != 0 else { return }
        guard let first = firstRecorded else {
            firstRecorded = receiveTimeNs
            firstReal = .now
            return
        }
        guard receiveTimeNs > first else { return }
        let due = firstReal.advanced(by: .nanoseconds(Int64(receiveTimeNs - first)))
        let now = ContinuousClock.now
        if due > now { Thread.sleep(forTimeInterval: (due - now) / .seconds(1)) }
    }
}

/// The emitter's end of a replay: writes each record to the sink, keeps the running summary and
/// each file's count of records written, and marks a file as ended at its first damaged record.
///
/// `@unchecked Sendable` is honest here: the sink is touched only by the pool's single emitter
/// thread, and every other stored property only under `lock`.
private final class Tally: @unchecked Sendable {
    private let sink: any RecordSink
    private let lock = NSLock()
    private var running = ReplaySummary()
    private var error: String?
    private var writtenPerFile: [Int]
    /// Per file, where its first damaged record is and what was wrong, once the emitter reached it.
    private var damagePerFile: [(index: Int, damage: ReplayFileReport.Damage)?]

    init(sink: any RecordSink, files: Int) {
        self.sink = sink
        writtenPerFile = Array(repeating: 0, count: files)
        damagePerFile = Array(repeating: nil, count: files)
    }

    /// Handles one result, in recording order.
    func emit(_ result: ReplayResult) {
        let file = result.file
        switch result.outcome {
        case .record(let record):
            guard !endsBefore(file: file, index: result.index) else { return }
            do {
                try sink.write(record)
            } catch {
                lock.withLock { if self.error == nil { self.error = "\(error)" } }
            }
            lock.withLock {
                running.add(record)
                writtenPerFile[file] += 1
            }
        case .damaged(let error):
            lock.withLock {
                if damagePerFile[file] == nil {
                    damagePerFile[file] = (result.index, .init(offset: Int(result.offset), message: "\(error)"))
                }
            }
        case .skipped:
            break
        }
    }

    /// Whether record `index` of `file` comes after the first damaged record of its file.
    func endsBefore(file: Int, index: Int) -> Bool {
        lock.withLock { damagePerFile[file].map { index > $0.index } ?? false }
    }

    func isDamaged(file: Int) -> Bool { lock.withLock { damagePerFile[file] != nil } }
    func damage(file: Int) -> ReplayFileReport.Damage? { lock.withLock { damagePerFile[file]?.damage } }
    func written(file: Int) -> Int { lock.withLock { writtenPerFile[file] } }
    var summary: ReplaySummary { lock.withLock { running } }
    var firstError: String? { lock.withLock { error } }
}

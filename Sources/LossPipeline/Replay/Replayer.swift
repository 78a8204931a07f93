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

/// Reads recordings, computes every message on a worker pool and writes the records in order.
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
        let tally = Tally(sink: sink)
        let processor = options.processor
        let pool = OrderedWorkerPool<WireMessage, ResultRecord>(
            name: "replay",
            workers: options.workers,
            capacity: options.queueDepth,
            makeWorker: {
                let workspace = LossWorkspace()
                return { message in processor.process(message, workspace: workspace) }
            },
            makeEmitter: { PoolEmitter(emit: { record in tally.emit(record) }) }
        )
        var reports: [ReplayFileReport] = []
        var state = ReplayProgress(startedAt: .now)
        var lastProgress = ContinuousClock.now
        for path in options.files {
            var report = ReplayFileReport(path: path, records: 0, damage: nil)
            do {
                let reader = try RecordingReader(path: path, limits: processor.limits)
                var pacer = Pacer(pace: options.pace)
                while true {
                    let message: WireMessage?
                    do {
                        message = try reader.next()
                    } catch {
                        report.damage = .init(offset: Int(reader.byteOffset), message: "\(error)")
                        break
                    }
                    guard let message else { break }
                    pacer.wait(for: message.receiveTimeNs)
                    pool.submit(message)
                    report.records += 1
                    state.messages += 1
                    state.bytes += message.totalBytes
                    if let progress, lastProgress.duration(to: .now) > .milliseconds(500) {
                        lastProgress = .now
                        state.written = pool.emittedCount
                        progress(state)
                    }
                }
            } catch {
                report.damage = .init(offset: 0, message: "\(error)")
            }
            reports.append(report)
        }
        pool.finish()
        if let progress {
            state.written = pool.emittedCount
            progress(state)
        }
        return Outcome(summary: tally.summary, files: reports, outputError: tally.firstError)
    }
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

/// The emitter's end of a replay: writes each record to the sink and keeps the running summary.
///
/// `@unchecked Sendable` is honest here: the sink is touched only by the pool's single emitter
/// thread, and the counters only under `lock`; the caller reads them after the pool has joined.
private final class Tally: @unchecked Sendable {
    private let sink: any RecordSink
    private let lock = NSLock()
    private var running = ReplaySummary()
    private var error: String?

    init(sink: any RecordSink) { self.sink = sink }

    func emit(_ record: ResultRecord) {
        do {
            try sink.write(record)
        } catch {
            lock.withLock { if self.error == nil { self.error = "\(error)" } }
        }
        lock.withLock { running.add(record) }
    }

    var summary: ReplaySummary { lock.withLock { running } }
    var firstError: String? { lock.withLock { error } }
}

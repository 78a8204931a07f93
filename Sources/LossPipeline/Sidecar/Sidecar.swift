import Foundation
public import Logging
import LossWire
import SSDLoss
import Synchronization
public import ZeroMQ

/// The sidecar: PULL batches, compute them on a worker pool, write one record per batch in order.
///
/// Threads and ownership (docs/ARCHITECTURE.md draws them):
/// - the **receiver** thread owns the PULL socket; it receives each message without copying its
///   frames, submits it to the pool, and hands it to the recorder if there is one;
/// - the **recorder** thread (``SidecarRecorder``) owns the optional `--record` recording and writes
///   each message it is handed, so that checksums and disk writes stay off the receive path;
/// - **workers** decode and compute (``BatchProcessor``), each with its own scratch workspace;
/// - the **emitter** thread owns the output (a PUSH socket or a JSON Lines file) and writes the
///   records in arrival order.
///
/// Backpressure: the pool holds at most `queue + workers - 1` batches; when it is full the
/// receiver stops receiving, libzmq's receive pipe (high-water mark 1) fills, and the trainer's
/// sends block; a recorder slower than the pool holds the receiver up the same way. Memory
/// therefore stays within about `queue + workers + 1` batches, one more with a recording.
///
/// Shutdown: ``stop()`` makes the receiver stop receiving; every batch already received is
/// computed and its record written, the output is flushed (lingering for queued records), and
/// ``run()`` returns the counts.
public final class Sidecar: Sendable {
    /// The bytes of a `--record` recording that may stay in the page cache behind its end
    /// (``WriteBehind``): 256 MiB, a few SSD300 batches.
    public static let recordingPageCacheWindow = 256 << 20

    /// The settings this sidecar runs with.
    public let settings: SidecarSettings
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let drain = DrainDeadline()
    private let counters: SidecarCounters
    /// The handshakes that failed on the input (`sidecar.input`), counted and logged.
    public let inputHandshakes: HandshakeFailureLog
    /// The handshakes that failed on a ZeroMQ output (`sidecar.output`), counted and logged.
    public let outputHandshakes: HandshakeFailureLog
    private let boundInput = Mutex<String?>(nil)
    private let sharedContext: Context?
    private let onListening: @Sendable (String?) -> Void

    /// Creates a sidecar; nothing is bound until ``run()``.
    ///
    /// - Parameters:
    ///   - context: A ZeroMQ context shared with other parts of the process (so that
    ///     `inproc://` endpoints join them), or nil for a context of the sidecar's own. With a
    ///     shared context, its owner runs the CURVE authenticator, if any (a context has one),
    ///     and reports its refusals to ``inputHandshakes``.
    ///   - onListening: Called once, on the receiver's thread, when the output is open and the
    ///     input attached, with ``inputEndpoint`` (nil when the input only connects). Not called
    ///     when the sidecar cannot start.
    public init(
        settings: SidecarSettings, logger: Logger, context: Context? = nil,
        onListening: @escaping @Sendable (String?) -> Void = { _ in }
    ) {
        self.settings = settings
        self.logger = logger
        self.sharedContext = context
        self.onListening = onListening
        inputHandshakes = HandshakeFailureLog(
            socket: "sidecar.input", role: .server, security: settings.inputSecurity, logger: logger)
        outputHandshakes = HandshakeFailureLog(
            socket: "sidecar.output", role: .client, security: settings.outputSecurity, logger: logger)
        counters = SidecarCounters(inputHandshakes: inputHandshakes, outputHandshakes: outputHandshakes)
    }

    /// Asks the sidecar to stop receiving and drain. Safe from any thread or signal handler task.
    public func stop() {
        drain.begin(timeout: settings.link.ackTimeout)
        stopping.store(true, ordering: .releasing)
    }

    /// The counts so far.
    public var report: SidecarReport { counters.report }

    /// The endpoint the input was last bound to, once listening (with its real port when the
    /// settings asked for `tcp://…:*`); nil before then or when the input only connects.
    public var inputEndpoint: String? { boundInput.withLock { $0 } }

    /// Runs until ``stop()`` and the drain that follows; the blocking work happens on threads of
    /// the sidecar's own, never on the caller's task.
    public func run() async throws -> SidecarReport {
        try await SocketThread.run(name: "sidecar") { try self.runBlocking() }
    }

    /// Runs on the calling OS thread until ``stop()`` and the drain that follows.
    ///
    /// - Throws: ``SidecarError`` when the input cannot be bound, the output cannot be opened or
    ///   the recording cannot be created. Failures after start are logged and counted instead.
    @available(*, noasync, message: "runBlocking() blocks its thread until the sidecar stops; use `try await run()`")
    public func runBlocking() throws -> SidecarReport {
        let context = try sharedContext ?? Context()
        let settings = self.settings
        let logger = self.logger
        let counters = self.counters
        let outputReady = Latch<String?>()
        let processor = settings.processor

        let pool = OrderedWorkerPool<WireMessage, ResultRecord>(
            name: "sidecar",
            workers: settings.workers,
            capacity: settings.workers + settings.queue - 1,
            makeWorker: {
                let workspace = LossWorkspace()
                return { message in processor.process(message, workspace: workspace) }
            },
            makeEmitter: {
                let sink: any RecordSink
                do {
                    sink = try Self.openSink(
                        settings, context: context, handshakes: self.outputHandshakes, drain: self.drain,
                        logger: logger)
                    outputReady.open(nil)
                } catch {
                    outputReady.open("\(error)")
                    return PoolEmitter(emit: { _ in })
                }
                return PoolEmitter(
                    emit: { record in
                        // Counted as computed or rejected only once written: a record the output
                        // refused is lost, and is counted as an output failure instead.
                        do {
                            try sink.write(record)
                            counters.recordWritten(record)
                        } catch {
                            counters.outputFailed()
                            logger.error("cannot write a record", metadata: ["error": "\(error)"])
                        }
                    },
                    finish: {
                        do { try sink.close() } catch {
                            logger.error("closing the output failed", metadata: ["error": "\(error)"])
                        }
                        if let link = sink as? LinkRecordSink {
                            counters.setLinkOutcome(unacknowledged: link.unacknowledged, spooled: link.spooled)
                        }
                    })
            })
        if let problem = outputReady.wait() {
            pool.finish()
            throw SidecarError.output(target: settings.output.description, reason: problem)
        }

        // CURVE: the authenticator must answer before the input binds, and outlive it.
        let authenticator: CurveAuthenticator?
        do {
            authenticator =
                sharedContext == nil
                ? try ServerAuthentication.start(context: context, sockets: [inputHandshakes]) : nil
        } catch {
            pool.finish()
            throw SidecarError.input(endpoints: "CURVE authentication", reason: "\(error)")
        }
        defer { authenticator?.stop() }

        let inputReady = Latch<String?>()
        let inputHandshakes = self.inputHandshakes
        let receiver = try SocketThread(name: "sidecar-recv", context: context, type: .pull) { socket in
            let monitor: HandshakeMonitor
            do {
                try socket.setOptions(
                    [.receiveHighWaterMark(1), .linger(.zero)]
                        + settings.inputSecurity.socketOptions(zapDomain: inputHandshakes.socket))
                monitor = try HandshakeMonitor(watching: socket) { inputHandshakes.record($0) }
            } catch {
                inputReady.open("\(error)")
                return
            }
            defer { monitor.stop() }
            do {
                try socket.attach(settings.input)
                if settings.input.contains(where: { $0.role == .bind }) {
                    let bound = try socket.lastEndpoint()
                    self.boundInput.withLock { $0 = bound }
                }
            } catch {
                inputReady.open("\(error)")
                return
            }
            let recorder: SidecarRecorder?
            do {
                recorder = try settings.recordPath.map { path throws(RecordingError) in
                    try SidecarRecorder.start(
                        path: path, version: settings.recordVersion, counters: counters, logger: logger)
                }
            } catch {
                inputReady.open("cannot create the recording: \(error)")
                return
            }
            inputReady.open(nil)
            self.onListening(self.inputEndpoint)
            self.receiveLoop(socket: socket, pool: pool, recorder: recorder)
        }
        if let problem = inputReady.wait() {
            _ = try? receiver.join()
            pool.finish()
            throw SidecarError.input(
                endpoints: settings.input.map(\.description).joined(separator: ","), reason: problem)
        }
        let outputSecurity: String
        let outputMode: String
        if case .zeromq = settings.output {
            outputSecurity = "\(settings.outputSecurity)"
            outputMode = settings.outputMode.rawValue
        } else {
            outputSecurity = "-"
            outputMode = "-"
        }
        logger.info(
            "sidecar listening",
            metadata: [
                "input": "\(settings.input.map(\.description).joined(separator: ","))",
                "output": "\(settings.output)", "output_mode": "\(outputMode)", "workers": "\(settings.workers)",
                "queue": "\(settings.queue)",
                "record": "\(settings.recordPath.map { "\($0) (format version \(settings.recordVersion))" } ?? "off")",
                "input_security": "\(settings.inputSecurity)", "output_security": "\(outputSecurity)",
            ])
        try receiver.join()
        pool.finish()
        inputHandshakes.flush()
        outputHandshakes.flush()
        let report = counters.report
        // received = computed + rejected + output_failures: every received batch is accounted for.
        let summary: Logger.Message = "sidecar stopped: \(report.counts)"
        if report.lostRecords {
            logger.warning(summary)
        } else {
            logger.info(summary)
        }
        return report
    }

    /// Receives until stopped: each message is queued for a worker, then handed to the recorder.
    private func receiveLoop(
        socket: Socket, pool: OrderedWorkerPool<WireMessage, ResultRecord>, recorder: SidecarRecorder?
    ) {
        var status = StatusLine(interval: settings.statusInterval)
        defer {
            if let recorder {
                // Every received message missing from the file, including those that were still
                // in the writer's buffer when a write failed.
                counters.setRecordingFailures(counters.report.received - recorder.finish())
            }
        }
        while !stopping.load(ordering: .acquiring) {
            status.tick(counters: counters, inFlight: pool.inFlight, logger: logger)
            let received: ReceivedMessage?
            do {
                received = try socket.receive(timeout: .milliseconds(100), maxFrames: RecordingFormat.maxFrames)
            } catch {
                logger.error("receiving failed; stopping", metadata: ["error": "\(error)"])
                return
            }
            guard let received else { continue }
            // The message views the libzmq frames in place and keeps them alive until it is done;
            // it carries how many frames were sent, so the decoder can name a message cut short.
            let message = WireMessage(
                frames: received.frames, sentFrameCount: received.sentFrameCount,
                receiveTimeNs: UInt64(Date().timeIntervalSince1970 * 1e9),
                release: { withExtendedLifetime(received) {} })
            counters.received()
            pool.submit(message)
            recorder?.record(message)
        }
    }

    private static func openSink(
        _ settings: SidecarSettings, context: Context, handshakes: HandshakeFailureLog, drain: DrainDeadline,
        logger: Logger
    ) throws -> any RecordSink {
        switch settings.output {
        case .standardOutput:
            return JSONLinesSink.standardOutput(flushEveryLine: true)
        case .file(let path):
            return try JSONLinesSink(path: path, flushEveryLine: true)
        case .zeromq(let endpoints) where settings.outputMode == .link:
            return try LinkRecordSink(
                context: context, endpoints: endpoints, settings: settings.link,
                security: settings.outputSecurity.socketOptions(zapDomain: handshakes.socket), drain: drain,
                logger: logger, onHandshakeFailure: { handshakes.record($0) })
        case .zeromq(let endpoints):
            return try ZeroMQRecordSink(
                context: context, endpoints: endpoints,
                sendHighWaterMark: settings.sendHighWaterMark, linger: settings.outputLinger,
                security: settings.outputSecurity.socketOptions(zapDomain: handshakes.socket),
                onHandshakeFailure: { handshakes.record($0) })
        }
    }
}

/// A failure to start the sidecar.
public enum SidecarError: Error, CustomStringConvertible, Sendable {
    /// The input endpoints could not be bound or connected.
    case input(endpoints: String, reason: String)
    /// The output could not be opened.
    case output(target: String, reason: String)

    /// A sentence saying what failed and what to change.
    public var description: String {
        switch self {
        case .input(let endpoints, let reason):
            InputFailure.sentence(endpoints: endpoints, reason: reason, variable: "LOSSD_SIDECAR_INPUT")
        case .output(let target, let reason):
            "cannot open the output \(target): \(reason). Choose another with --output or LOSSD_SIDECAR_OUTPUT."
        }
    }
}

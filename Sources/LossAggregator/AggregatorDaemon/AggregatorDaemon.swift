import Foundation
public import Logging
public import LossPipeline
import LossWire
import Synchronization
public import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The aggregation daemon without its HTTP server: take records from sidecars' record links (a
/// ROUTER socket) and plain PUSH producers (an optional PULL socket) into an ``Aggregator``,
/// write snapshots and the state file, acknowledge what is saved.
///
/// Threads (docs/ARCHITECTURE.md draws them):
/// - the **receiver** (`aggregate-recv`) owns the ROUTER and PULL sockets; it decodes each record
///   and ingests it, so a record taken off a socket is in the statistics before the next is read,
///   and it sends the links' acks (``LinkAcknowledger``): credit as records are ingested, durable
///   once the writer has saved a state holding them;
/// - the **writer** (`aggregate-write`) owns the snapshots file, the PUB socket and the state
///   file; every `snapshot_interval` it appends and publishes a snapshot, every `state_interval`
///   it saves the state atomically, and `ack_interval` after records arrived over a link too.
///
/// Readers (the HTTP handlers) take snapshots of ``aggregator`` from any thread.
///
/// Shutdown: ``stop()`` makes the receiver stop waiting; it ingests the records already queued in
/// its sockets and stops the writer, which counts every pending seq as lost (SPEC §6: at
/// shutdown, every gap), saves the state and writes a last snapshot; the receiver then
/// acknowledges what that last save holds and closes its sockets.
public final class AggregatorDaemon: Sendable {
    /// The settings the daemon runs with.
    public let settings: AggregatorSettings
    /// The statistics, for readers.
    public let aggregator: Aggregator
    /// The handshakes that failed on the input, counted and logged (`/metrics` serves the counts).
    public let inputHandshakes: HandshakeFailureLog
    /// The handshakes that failed on the publish socket (subscribers), or nil without `--publish`.
    public let publishHandshakes: HandshakeFailureLog?

    /// Every socket's handshake log: the ones `/metrics` counts and a shared context's
    /// authenticator reports to.
    public var handshakes: [HandshakeFailureLog] { [inputHandshakes] + (publishHandshakes.map { [$0] } ?? []) }
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let writerStop = Latch<Void>()
    private let writerSaved = Latch<Void>()
    private let checkpoints: LinkCheckpoints?
    private let writerCounters = AggregatorWriterCounters()
    private let sharedContext: Context?

    /// Creates a daemon, loading the state file when there is one (a damaged one is moved aside
    /// and the daemon starts fresh); nothing is bound until ``run()``.
    ///
    /// - Throws: ``AggregatorStateError/io(path:operation:reason:)`` when the state file exists
    ///   but cannot be read or moved aside.
    ///
    /// - Parameter context: A ZeroMQ context shared with other parts of the process (so that
    ///   `inproc://` endpoints join them), or nil for one of the daemon's own. With a shared
    ///   context, its owner runs the CURVE authenticator, if any (a context has one), and reports
    ///   its refusals to ``inputHandshakes``.
    public init(settings: AggregatorSettings, logger: Logger, context: Context? = nil) throws(AggregatorStateError) {
        self.settings = settings
        self.logger = logger
        self.sharedContext = context
        inputHandshakes = HandshakeFailureLog(
            socket: settings.inputName, role: .server, security: settings.inputSecurity, logger: logger)
        publishHandshakes = settings.publish.map { _ in
            HandshakeFailureLog(
                socket: AggregatorSettings.publishName, role: .server, security: settings.publishSecurity,
                logger: logger, clientKeySetting: "DivergenceWatcher(curve_server_key=…)")
        }
        let now = Date().timeIntervalSince1970
        let loaded: Aggregation
        if let path = settings.statePath {
            loaded = try AggregatorStateFile(path: path).load(parameters: settings.parameters, now: now, logger: logger)
            // The links' positions in the file are saved: acknowledged as durable from the start.
            checkpoints = LinkCheckpoints(loaded: loaded.linkPositions)
        } else {
            loaded = Aggregation(parameters: settings.parameters, startTime: now)
            checkpoints = nil
        }
        aggregator = Aggregator(loaded)
        writerCounters.savedRecords.store(loaded.records, ordering: .relaxed)
    }

    /// The counts so far, with the writer's failures; final once ``run()`` has returned.
    ///
    /// ``AggregatorReport/lostOwnRecords`` tells whether records the daemon took are missing
    /// from its state file or snapshots.
    public var report: AggregatorReport {
        let snapshot = aggregator.snapshot()
        let finalSaveFailed = settings.statePath != nil && writerCounters.lastSaveFailed.load(ordering: .relaxed)
        return AggregatorReport(
            records: snapshot.records, invalid: snapshot.invalid, overflow: snapshot.overflow,
            lost: snapshot.sources.reduce(0) { $0 + $1.lost },
            duplicates: snapshot.sources.reduce(0) { $0 + $1.duplicates },
            stateSaveFailures: writerCounters.stateSaveFailures.load(ordering: .relaxed),
            finalSaveFailed: finalSaveFailed,
            unsavedRecords: finalSaveFailed
                ? max(0, snapshot.records - writerCounters.savedRecords.load(ordering: .relaxed)) : 0,
            snapshotFailures: writerCounters.snapshotFailures.load(ordering: .relaxed))
    }

    /// Asks the daemon to stop receiving, then save and exit. Safe from any thread.
    public func stop() {
        stopping.store(true, ordering: .releasing)
    }

    /// Runs until ``stop()`` and the final save; the blocking work happens on the daemon's own
    /// threads, never on the caller's task.
    public func run() async throws {
        try await SocketThread.run(name: "aggregate") { try self.runBlocking() }
    }

    /// Runs on the calling OS thread until ``stop()`` and the final save.
    ///
    /// - Throws: ``AggregatorError`` when the input cannot be bound or the snapshots file or the
    ///   publish socket cannot be opened. Failures after start are logged instead.
    @available(*, noasync, message: "runBlocking() blocks its thread until the daemon stops; use `try await run()`")
    public func runBlocking() throws {
        let context = try sharedContext ?? Context()
        // CURVE: the authenticator must answer before the input binds, and outlive it.
        let authenticator: CurveAuthenticator?
        do {
            authenticator =
                sharedContext == nil
                ? try ServerAuthentication.start(context: context, sockets: handshakes) : nil
        } catch {
            throw AggregatorError.input(endpoints: "CURVE authentication", reason: "\(error)")
        }
        defer { authenticator?.stop() }
        let writerReady = Latch<String?>()
        let writer = try SocketThread(name: "aggregate-write") {
            AggregatorWriter.run(
                settings: self.settings, aggregator: self.aggregator, context: context,
                publishHandshakes: self.publishHandshakes, stop: self.writerStop, ready: writerReady,
                counters: self.writerCounters,
                checkpoints: self.checkpoints, finalSaved: self.writerSaved, logger: self.logger)
        }
        if let problem = writerReady.wait() {
            _ = try? writer.join()
            throw AggregatorError.output(reason: problem)
        }

        let inputReady = Latch<String?>()
        let inputHandshakes = self.inputHandshakes
        let receiver = try SocketThread(name: "aggregate-recv", context: context, type: .router) { router in
            let security = self.settings.inputSecurity.socketOptions(zapDomain: inputHandshakes.socket)
            var pull: Socket?
            var monitors: [HandshakeMonitor] = []
            defer {
                pull?.close()
                for monitor in monitors { monitor.stop() }
            }
            do {
                try router.setOptions([.linger(.zero)] + security)
                monitors.append(try HandshakeMonitor(watching: router) { inputHandshakes.record($0) })
                try router.attach(self.settings.input)
                if let endpoints = self.settings.pullInput {
                    let socket = try Socket(context, type: .pull)
                    pull = socket
                    try socket.setOptions([.linger(.zero)] + security)
                    monitors.append(try HandshakeMonitor(watching: socket) { inputHandshakes.record($0) })
                    try socket.attach(endpoints)
                }
            } catch {
                inputReady.open("\(error)")
                return
            }
            inputReady.open(nil)
            self.receiveLoop(router: router, pull: pull)
        }
        if let problem = inputReady.wait() {
            _ = try? receiver.join()
            writerStop.open()
            _ = try? writer.join()
            throw AggregatorError.input(
                endpoints: (settings.input + (settings.pullInput ?? [])).map(\.description).joined(separator: ","),
                reason: problem)
        }
        logger.info(
            "aggregator listening",
            metadata: [
                "input": "\(settings.input.map(\.description).joined(separator: ","))",
                "pull_input": "\(settings.pullInput?.map(\.description).joined(separator: ",") ?? "off")",
                "state": "\(settings.statePath ?? "off")", "snapshots": "\(settings.snapshotsPath ?? "off")",
                "publish": "\(settings.publish?.map(\.description).joined(separator: ",") ?? "off")",
                "input_security": "\(settings.inputSecurity)",
                "publish_security": "\(settings.publish == nil ? "-" : "\(settings.publishSecurity)")",
            ])
        try receiver.join()
        _ = writerStop.open()
        try writer.join()
        inputHandshakes.flush()
        let report = self.report
        publishHandshakes?.flush()
        let counts = "\(report.counts) handshake_failures=\(inputHandshakes.total)"
        if report.lostOwnRecords {
            logger.error("aggregator stopped, records lost: \(counts)")
        } else {
            logger.info("aggregator stopped: \(counts)")
        }
    }

    /// Receives until stopped, then ingests whatever is still queued in the sockets, has the
    /// writer save for the last time and acknowledges what it saved.
    private func receiveLoop(router: Socket, pull: Socket?) {
        var invalidLog = InvalidRecordLog()
        defer { invalidLog.flush(logger: logger) }
        var links = LinkAcknowledger(
            aggregator: aggregator, credit: UInt64(settings.linkCredit), checkpoints: checkpoints)
        var poller = Poller()
        poller.register(router, for: .readable)
        if let pull { poller.register(pull, for: .readable) }
        do {
            while !stopping.load(ordering: .acquiring) {
                // A short wait: the acks of a saved state go out within it.
                _ = try poller.poll(timeout: .milliseconds(20))
                try takeQueued(router: router, pull: pull, links: &links, invalidLog: &invalidLog)
                links.acknowledgeSaved(socket: router)
            }
            // Drain: every record already queued on this side of the sockets is ingested.
            try takeQueued(router: router, pull: pull, links: &links, invalidLog: &invalidLog)
        } catch {
            logger.error("receiving failed; stopping", metadata: ["error": "\(error)"])
        }
        // The last save, then its acks, so that sidecars stopping too can forget their records.
        _ = writerStop.open()
        if writerSaved.wait(timeout: .seconds(30)) != nil {
            links.acknowledgeSaved(socket: router)
        }
    }

    /// Takes every message already queued, in bursts from each socket in turn, then sends the
    /// credit acks they call for.
    private func takeQueued(
        router: Socket, pull: Socket?, links: inout LinkAcknowledger, invalidLog: inout InvalidRecordLog
    ) throws(ZeroMQError) {
        var more = true
        while more {
            more = false
            for _ in 0..<256 {
                guard let message = try router.tryReceive(maxFrames: 5) else { break }
                more = true
                links.handle(
                    message, socket: router, at: Date().timeIntervalSince1970, invalidLog: &invalidLog, logger: logger)
            }
            if let pull {
                for _ in 0..<256 {
                    guard let message = try pull.tryReceive(maxFrames: 1) else { break }
                    more = true
                    handle(message, invalidLog: &invalidLog)
                }
            }
        }
        links.acknowledgePending(socket: router)
    }

    private func handle(_ message: ReceivedMessage, invalidLog: inout InvalidRecordLog) {
        let now = Date().timeIntervalSince1970
        guard message.isComplete else {
            aggregator.ingestInvalid(at: now)
            invalidLog.note(
                "a record is one frame; this message has \(message.sentFrameCount)", at: now, logger: logger)
            return
        }
        let problem = message.withFrames { frames in aggregator.ingest(jsonLine: frames[0], at: now).problem }
        if let problem {
            invalidLog.note(problem.reason, at: now, logger: logger)
        }
    }
}

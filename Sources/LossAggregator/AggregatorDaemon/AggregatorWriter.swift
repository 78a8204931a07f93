import Foundation
import Logging
import LossPipeline
import SystemPackage
import ZeroMQ

/// The daemon's writer thread: snapshots to a JSON Lines file and a PUB socket every
/// `snapshot_interval`, the state file every `state_interval` (and `ack_interval` after records
/// came over a record link, so that they can be acknowledged soon), and both once more at shutdown;
/// every second, the aggregation's housekeeping (steps whose timeout passed, idle streams) and
/// the TensorBoard event files. Divergence events go to the log and, topic `event`, to the PUB
/// socket: with a PUB socket the writer looks for them every ``eventInterval`` (a trainer that
/// stops on divergence should hear of it within a few steps), without one at every tick.
///
/// It owns the snapshots file, the PUB socket and the event files, so nothing else touches them.
enum AggregatorWriter {
    /// The topic frame of published snapshots.
    static let topic = "stats"
    /// The topic frame of published divergence events.
    static let eventTopic = "event"
    /// Seconds between looks for divergence events when they are published.
    static let eventInterval = 0.02
    /// Seconds between housekeeping ticks, which also write and flush the TensorBoard files.
    static let tickInterval = 1.0

    /// Runs on the calling (writer) thread until `stop` is raised, then saves for the last time.
    ///
    /// Opens `ready` with nil once the outputs are open, or with the reason they are not (and
    /// returns at once).
    static func run(
        settings: AggregatorSettings, aggregator: Aggregator, context: Context,
        publishHandshakes: HandshakeFailureLog?, stop: Latch<Void>,
        ready: Latch<String?>, counters: AggregatorWriterCounters, checkpoints: LinkCheckpoints?,
        finalSaved: Latch<Void>, logger: Logger
    ) {
        // The receiver waits for the last save to acknowledge it, even when the writer cannot start.
        defer { finalSaved.open() }
        var snapshotsFile: FileDescriptor?
        if let path = settings.snapshotsPath {
            do {
                snapshotsFile = try .openForWriting(path, appending: true)
            } catch {
                ready.open(
                    """
                    cannot open the snapshots file \(path): \(error). Check that its folder exists and is writable, \
                    or choose another with --snapshots.
                    """
                )
                return
            }
        }
        defer { try? snapshotsFile?.close() }
        var publisher: Socket?
        var publishMonitor: HandshakeMonitor?
        if let endpoints = settings.publish {
            do {
                let socket = try Socket(context, type: .pub)
                publisher = socket
                let security = settings.publishSecurity.socketOptions(zapDomain: AggregatorSettings.publishName)
                try socket.setOptions([.linger(.seconds(1))] + security)
                if let publishHandshakes {
                    publishMonitor = try HandshakeMonitor(watching: socket) { publishHandshakes.record($0) }
                }
                try socket.attach(endpoints)
            } catch {
                publisher?.close()
                publishMonitor?.stop()
                ready.open(
                    """
                    cannot open the publish socket \(endpoints.map(\.description).joined(separator: ",")): \
                    \(error). Choose another endpoint with --publish.
                    """
                )
                return
            }
        }
        defer {
            publisher?.close()
            publishMonitor?.stop()
        }
        var export: TensorBoardExport?
        if let folder = settings.tensorboardPath {
            do {
                export = try TensorBoardExport(folder: folder, logger: logger)
            } catch {
                ready.open("\(error)")
                return
            }
        }
        let stateFile = settings.statePath.map(AggregatorStateFile.init(path:))
        ready.open(nil)

        let snapshotting = snapshotsFile != nil || publisher != nil
        let snapshotEvery = settings.snapshotInterval / .seconds(1)
        let stateEvery = settings.stateInterval / .seconds(1)
        var nextSnapshot = Date().timeIntervalSince1970 + snapshotEvery
        var nextState = Date().timeIntervalSince1970 + stateEvery
        var nextTick = Date().timeIntervalSince1970 + tickInterval
        let ackEvery = settings.ackInterval / .seconds(1)
        var savedLinkRecords = aggregator.linkRecords
        var lastSave = Date().timeIntervalSince1970

        func writeSnapshot(_ now: Double) {
            let line = aggregator.snapshot(at: now).jsonLine()
            if let snapshotsFile {
                do {
                    // The line and its newline in one buffer, so readers never see half a line.
                    _ = try snapshotsFile.writeAll(line + [UInt8(ascii: "\n")])
                } catch {
                    counters.snapshotFailures.add(1, ordering: .relaxed)
                    logger.error(
                        "cannot append to the snapshots file",
                        metadata: ["path": "\(settings.snapshotsPath ?? "")", "error": "\(error)"])
                }
            }
            if let publisher {
                do {
                    try publisher.send([Array(topic.utf8), line], mode: .dontWait)
                } catch {
                    logger.debug("a snapshot was not published", metadata: ["error": "\(error)"])
                }
            }
        }

        func publishEvents() {
            let (events, dropped) = aggregator.takeEvents()
            if dropped > 0 {
                logger.warning(
                    """
                    \(dropped) divergence events were dropped: more than \(Aggregation.maxPendingEvents) waited to \
                    be published
                    """)
            }
            for event in events {
                switch event.kind {
                case .diverging: logger.warning("\(event.summary)")
                case .recovered: logger.notice("\(event.summary)")
                }
                guard let publisher else { continue }
                do {
                    try publisher.send([Array(eventTopic.utf8), event.jsonLine()], mode: .dontWait)
                } catch {
                    logger.warning("a divergence event was not published", metadata: ["error": "\(error)"])
                }
            }
        }

        func saveState(_ now: Double) {
            guard let stateFile else { return }
            let aggregation = aggregator.aggregation
            lastSave = now
            do {
                try stateFile.save(aggregation, now: now)
                // Acknowledged from now on: the links' positions in the file just saved.
                checkpoints?.publish(aggregation.linkPositions)
                savedLinkRecords = aggregation.linkRecords
                counters.savedRecords.store(aggregation.records, ordering: .relaxed)
                counters.lastSaveFailed.store(false, ordering: .relaxed)
            } catch {
                counters.stateSaveFailures.add(1, ordering: .relaxed)
                counters.lastSaveFailed.store(true, ordering: .relaxed)
                logger.error("\(error)")
            }
        }

        while true {
            var deadline = nextTick
            if snapshotting { deadline = min(deadline, nextSnapshot) }
            if stateFile != nil { deadline = min(deadline, nextState) }
            if publisher != nil { deadline = min(deadline, Date().timeIntervalSince1970 + eventInterval) }
            if stateFile != nil {
                // Records waiting for acknowledgement are saved ack_interval after the last save;
                // without any, a look every ack_interval.
                let now = Date().timeIntervalSince1970
                let waiting = aggregator.linkRecords != savedLinkRecords
                deadline = min(deadline, waiting ? max(lastSave + ackEvery, now) : now + ackEvery)
            }
            let wait = deadline - Date().timeIntervalSince1970
            if stop.wait(timeout: .seconds(max(0, wait))) != nil { break }
            publishEvents()
            let now = Date().timeIntervalSince1970
            if now >= nextTick {
                aggregator.housekeeping(at: now)
                export?.write(aggregator.takeStepChanges(), at: now)
                publishEvents()
                nextTick = Self.next(after: nextTick, every: tickInterval, now: now)
            }
            if snapshotting && now >= nextSnapshot {
                writeSnapshot(now)
                nextSnapshot = Self.next(after: nextSnapshot, every: snapshotEvery, now: now)
            }
            if stateFile != nil && now >= nextState {
                saveState(now)
                nextState = Self.next(after: nextState, every: stateEvery, now: now)
            } else if stateFile != nil && now >= lastSave + ackEvery && aggregator.linkRecords != savedLinkRecords {
                // Records wait for their acknowledgement: save them now rather than at state_interval.
                saveState(now)
            }
        }

        // Shutdown: every gap counts, the event files get their last steps (before the state, which
        // notes how far they got), then the state and one last snapshot.
        aggregator.countPendingAsLost()
        publishEvents()
        let now = Date().timeIntervalSince1970
        if let export {
            export.write(aggregator.takeStepChanges(), at: now)
            export.close()
        }
        saveState(now)
        if snapshotting { writeSnapshot(now) }
        if let path = settings.statePath, !counters.lastSaveFailed.load(ordering: .relaxed) {
            logger.info("state saved", metadata: ["state": "\(path)"])
        }
    }

    /// The next due time after `due`, skipping the periods missed while busy.
    private static func next(after due: Double, every interval: Double, now: Double) -> Double {
        var next = due + interval
        if next <= now { next = now + interval }
        return next
    }
}

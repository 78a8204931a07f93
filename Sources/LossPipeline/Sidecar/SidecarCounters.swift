import LossWire
import Synchronization

/// What a sidecar has done: once it has drained, every received message is counted exactly once,
/// as computed, rejected or an output failure (`received == computed + rejected + outputFailures`).
public struct SidecarReport: Sendable, Hashable {
    /// Messages taken off the input socket.
    public var received: Int
    /// Loss records written to the output.
    public var computed: Int
    /// Error records written to the output.
    public var rejected: Int
    /// Records (loss or error) that could not be written to the output: lost, and counted here.
    public var outputFailures: Int
    /// Received messages missing from the `--record` recording (a write failed; they were still
    /// processed). Known once the recording is closed, at the end of the run.
    public var recordingFailures: Int
    /// Messages written whole to the `--record` recording so far (handed to the file system).
    public var recorded: Int
    /// Handshakes that failed on the input: a client that does not match its CURVE settings
    /// (docs/SECURITY.md). Such a client delivers nothing.
    public var handshakeFailures: Int = 0
    /// Handshakes that failed on a ZeroMQ output: the sink does not match its CURVE settings, and
    /// records wait in the output's queue.
    public var outputHandshakeFailures: Int = 0
    /// Records of the acknowledged link still unacknowledged when the sidecar stopped, with no
    /// spool to keep them: lost (they are also among `computed` and `rejected`).
    public var unacknowledged: Int = 0
    /// Records of the acknowledged link still unacknowledged when the sidecar stopped and kept in
    /// its spool: the next sidecar on the same spool sends them.
    public var spooled: Int = 0

    /// Whether records of batches the sidecar took are missing from its output or its recording:
    /// `lossd sidecar` then exits with status 2.
    public var lostRecords: Bool { outputFailures > 0 || recordingFailures > 0 || unacknowledged > 0 }

    /// `received=… computed=… rejected=… output_failures=… recording_failures=… handshake_failures=…
    /// output_handshake_failures=…`: the sidecar's last line.
    public var counts: String {
        """
        received=\(received) computed=\(computed) rejected=\(rejected) output_failures=\(outputFailures) \
        recording_failures=\(recordingFailures) handshake_failures=\(handshakeFailures) \
        output_handshake_failures=\(outputHandshakeFailures) unacknowledged=\(unacknowledged) spooled=\(spooled)
        """
    }
}

/// Lock-free counters shared by the receiver, the emitter and the status line; the handshake
/// failures are read from the sockets' logs.
final class SidecarCounters: Sendable {
    private let inputHandshakes: HandshakeFailureLog
    private let outputHandshakes: HandshakeFailureLog
    private let receivedCount = Atomic<Int>(0)
    private let computedCount = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let outputFailureCount = Atomic<Int>(0)
    private let recordingFailureCount = Atomic<Int>(0)
    private let recordedCount = Atomic<Int>(0)
    private let unacknowledgedCount = Atomic<Int>(0)
    private let spooledCount = Atomic<Int>(0)

    init(inputHandshakes: HandshakeFailureLog, outputHandshakes: HandshakeFailureLog) {
        self.inputHandshakes = inputHandshakes
        self.outputHandshakes = outputHandshakes
    }

    func received() { receivedCount.add(1, ordering: .relaxed) }
    func outputFailed() { outputFailureCount.add(1, ordering: .relaxed) }
    func setRecordingFailures(_ count: Int) { recordingFailureCount.store(count, ordering: .relaxed) }
    func setRecorded(_ count: Int) { recordedCount.store(count, ordering: .relaxed) }
    func setLinkOutcome(unacknowledged: Int, spooled: Int) {
        unacknowledgedCount.store(unacknowledged, ordering: .relaxed)
        spooledCount.store(spooled, ordering: .relaxed)
    }

    /// Counts a record the output accepted.
    func recordWritten(_ record: ResultRecord) {
        switch record {
        case .loss: computedCount.add(1, ordering: .relaxed)
        case .error: rejectedCount.add(1, ordering: .relaxed)
        }
    }

    var report: SidecarReport {
        SidecarReport(
            received: receivedCount.load(ordering: .relaxed),
            computed: computedCount.load(ordering: .relaxed),
            rejected: rejectedCount.load(ordering: .relaxed),
            outputFailures: outputFailureCount.load(ordering: .relaxed),
            recordingFailures: recordingFailureCount.load(ordering: .relaxed),
            recorded: recordedCount.load(ordering: .relaxed),
            handshakeFailures: inputHandshakes.total, outputHandshakeFailures: outputHandshakes.total,
            unacknowledged: unacknowledgedCount.load(ordering: .relaxed), spooled: spooledCount.load(ordering: .relaxed)
        )
    }
}

public import LossWire
public import ZeroMQ

/// Pushes each record as one single-frame JSON message on a PUSH socket.
///
/// Made on, and used only by, the thread that owns it (the pipeline's emitter). A send blocks while
/// the sink's high-water mark is reached: that stalls the emitter, then the workers, then the
/// receiver, and so pushes back on the trainers instead of dropping records.
public final class ZeroMQRecordSink: RecordSink {
    private let socket: Socket
    private let monitor: HandshakeMonitor?

    /// Opens a PUSH socket on `endpoints`.
    ///
    /// - Parameters:
    ///   - sendHighWaterMark: Records queued for a slow or absent sink before a send blocks.
    ///   - linger: How long closing waits for queued records to be delivered.
    ///   - security: CURVE client options (this process's key pair and the sink's public key), if any.
    ///   - onHandshakeFailure: When given, the socket's handshakes are watched on a thread of their
    ///     own (``HandshakeMonitor``) and each failure is passed to it there.
    public init(
        context: Context, endpoints: [Endpoint], sendHighWaterMark: Int, linger: Duration,
        security: [SocketOption] = [], onHandshakeFailure: (@Sendable (HandshakeFailure) -> Void)? = nil
    ) throws(ZeroMQError) {
        let socket = try Socket(context, type: .push)
        try socket.setOptions([.sendHighWaterMark(sendHighWaterMark), .linger(linger)] + security)
        let monitor = try onHandshakeFailure.map { report throws(ZeroMQError) in
            try HandshakeMonitor(watching: socket, onFailure: report)
        }
        self.socket = socket
        self.monitor = monitor
        do {
            try socket.attach(endpoints)
        } catch {
            monitor?.stop()
            throw error
        }
    }

    /// Sends one record, waiting while the sink is full.
    public func write(_ record: ResultRecord) throws {
        try socket.send([record.jsonLine()])
    }

    /// Closes the socket; libzmq keeps delivering queued records for the linger period.
    public func close() throws {
        socket.close()
        monitor?.stop()
    }
}

public import LossWire

/// Where result records go: a JSON Lines file, standard output, or a ZeroMQ PUSH socket.
///
/// A sink is owned by one thread (the pipeline's emitter), so it need not be `Sendable`.
public protocol RecordSink: AnyObject {
    /// Writes one record. Blocks while the destination is full.
    func write(_ record: ResultRecord) throws
    /// Writes out anything buffered and releases the destination.
    func close() throws
}

/// How a sidecar sends records to a ZeroMQ output (`sidecar.output_mode`, `--output-mode`).
public enum OutputMode: String, Sendable, Hashable, CaseIterable {
    /// The acknowledged record link to a lossd aggregator (a DEALER socket): records are kept until
    /// the aggregator has saved them, sent again after a reconnect or a restart, and counted once.
    case link
    /// A plain PUSH socket, for any PULL sink (a pyzmq script, `lossd_client`'s sink): records
    /// queued at a sink that goes away are lost.
    case push
}

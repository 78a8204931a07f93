/// Size limits applied to incoming messages before anything is allocated from them.
public struct WireLimits: Sendable, Hashable {
    /// The largest message accepted, all frames together (`max_message_bytes`); default 1 GiB.
    public var maxMessageBytes: Int
    /// The largest header frame accepted; default 64 KiB.
    public var maxHeaderBytes: Int
    /// The longest `run`, `split` or `source` label, in UTF-8 bytes; default 128.
    public var maxLabelBytes: Int

    /// Creates limits; the defaults are lossd's.
    public init(maxMessageBytes: Int = 1 << 30, maxHeaderBytes: Int = 64 << 10, maxLabelBytes: Int = 128) {
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxLabelBytes = maxLabelBytes
    }
}

public import SSDLoss

/// A validated batch message: its header, effective settings and tensor views.
///
/// The tensors are not copied: they are views of the frames of ``message``, which this value
/// keeps alive. They are reachable only inside ``withInput(_:)``, for the duration of the call.
public struct DecodedBatch: Sendable {
    /// The validated header.
    public let header: BatchHeader
    /// The effective loss settings: the defaults with the header's overrides applied.
    public let parameters: LossParameters
    /// The message whose frames hold the tensors, one per tensor of the layout, in its order.
    public let message: WireMessage

    init(header: BatchHeader, parameters: LossParameters, message: WireMessage) {
        self.header = header
        self.parameters = parameters
        self.message = message
    }

    /// B, N and C.
    public var shape: BatchShape { header.shape }
    /// The element type of the floating-point tensors.
    public var dtype: ScalarType { header.dtype }
    /// The layout of the tensors.
    public var layout: Layout { header.layout }
    /// The grouping labels.
    public var labels: BatchLabels { header.labels }

    /// Calls `body` with views of the tensor frames, keeping the message alive for the call; the
    /// views must not escape it.
    public func withInput<Result, Failure: Error>(
        _ body: (LossInput) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let message = self.message
        defer { withExtendedLifetime(message) {} }
        return try body(LossInput(layout: header.layout, buffers: message.frames.dropFirst()))
    }
}

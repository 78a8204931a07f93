public import SSDLoss

/// A validated batch message: its header, effective settings and tensor views.
///
/// The tensors are not copied: ``input`` views the frames of ``message``, which this value keeps
/// alive. Use the views only while the batch is alive, e.g. inside ``withInput(_:)``.
public struct DecodedBatch: Sendable {
    /// The validated header.
    public let header: BatchHeader
    /// The effective loss settings: the defaults with the header's overrides applied.
    public let parameters: LossParameters
    /// The message whose frames hold the tensors.
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

    /// Views of the tensor frames, valid only while this batch (and so its message) is alive.
    public var input: LossInput {
        let frames = message.frames
        switch header.layout {
        case .keras:
            return .keras(yTrue: frames[1], yPred: frames[2])
        case .compact:
            return .compact(labels: frames[1], gtOffsets: frames[2], scores: frames[3], predOffsets: frames[4])
        }
    }

    /// Calls `body` with views of the tensor frames, keeping the message alive for the call.
    public func withInput<Result>(_ body: (LossInput) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(message) { try body(input) }
    }
}

/// One tensor of a batch as its layout arranges it: its name on the wire, its element type and
/// its exact size.
public struct BatchTensor: Sendable, Hashable {
    /// `y_true`, `y_pred`, `labels`, `gt_offsets`, `scores` or `pred_offsets`.
    public var name: String
    /// The element type's name on the wire: the batch's scalar type, or `int32` for `labels`.
    public var elementType: String
    /// The exact number of bytes, or nil when it does not fit in `Int` (a shape too large to
    /// address, which no real buffer can match).
    public var byteCount: Int?

    /// Describes one tensor.
    public init(name: String, elementType: String, byteCount: Int?) {
        self.name = name
        self.elementType = elementType
        self.byteCount = byteCount
    }
}

extension Layout {
    /// The tensors of a batch of `shape` and `dtype` in this layout, in wire order: frames 1, 2, …
    /// of a message, and the order of ``LossInput/buffers``.
    ///
    /// The one table of what each layout holds: the wire decoder checks frames against it, the
    /// kernel checks its buffers against it, and senders size their tensors with it.
    public func tensors(shape: BatchShape, dtype: ScalarType) -> [BatchTensor] {
        let scalar = dtype.rawValue
        let width = dtype.byteWidth
        let (batch, boxes, classes) = (shape.batch, shape.boxes, shape.classes)
        switch self {
        case .keras:
            let (entries, overflow) = classes.addingReportingOverflow(12)
            let bytes = overflow ? nil : Self.product(batch, boxes, entries, width)
            return [
                BatchTensor(name: "y_true", elementType: scalar, byteCount: bytes),
                BatchTensor(name: "y_pred", elementType: scalar, byteCount: bytes),
            ]
        case .compact:
            let offsets = Self.product(batch, boxes, 4, width)
            return [
                BatchTensor(name: "labels", elementType: "int32", byteCount: Self.product(batch, boxes, 4)),
                BatchTensor(name: "gt_offsets", elementType: scalar, byteCount: offsets),
                BatchTensor(name: "scores", elementType: scalar, byteCount: Self.product(batch, boxes, classes, width)),
                BatchTensor(name: "pred_offsets", elementType: scalar, byteCount: offsets),
            ]
        }
    }

    /// The number of tensors of this layout: 2 (`keras`) or 4 (`compact`).
    public var tensorCount: Int {
        switch self {
        case .keras: 2
        case .compact: 4
        }
    }

    /// The product of `factors`, or nil if it overflows `Int`.
    private static func product(_ factors: Int...) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = value
        }
        return result
    }
}

extension LossInput {
    /// The tensors of `layout`, from one buffer per tensor in wire order (see
    /// ``Layout/tensors(shape:dtype:)``).
    ///
    /// - Precondition: `buffers` holds exactly `layout.tensorCount` buffers; the wire decoder
    ///   checks the frame count before it builds an input.
    public init(layout: Layout, buffers: some Collection<UnsafeRawBufferPointer>) {
        let buffers = Array(buffers)
        precondition(
            buffers.count == layout.tensorCount,
            "the \(layout) layout has \(layout.tensorCount) tensors, not \(buffers.count)")
        switch layout {
        case .keras:
            self = .keras(yTrue: buffers[0], yPred: buffers[1])
        case .compact:
            self = .compact(labels: buffers[0], gtOffsets: buffers[1], scores: buffers[2], predOffsets: buffers[3])
        }
    }

    /// The layout these tensors are in.
    public var layout: Layout {
        switch self {
        case .keras: .keras
        case .compact: .compact
        }
    }

    /// The buffers in wire order.
    public var buffers: [UnsafeRawBufferPointer] {
        switch self {
        case .keras(let yTrue, let yPred): [yTrue, yPred]
        case .compact(let labels, let gtOffsets, let scores, let predOffsets): [labels, gtOffsets, scores, predOffsets]
        }
    }
}

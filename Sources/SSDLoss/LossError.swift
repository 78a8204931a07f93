/// Why ``MultiBoxLoss`` could not compute the loss of a batch.
///
/// Each case describes a problem with the batch itself, never with lossd: the caller reports it
/// (for example as an error record) and goes on with the next batch.
public enum LossError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The values the loss reads hold NaN or ±Inf; the report counts them per tensor.
    case nonfinite(NonfiniteReport)
    /// A `compact`-layout label lies outside −1…C−1. `box` is the flat index `b * N + n`.
    case labelOutOfRange(box: Int, label: Int32, classes: Int)
    /// A tensor's byte count does not match the batch shape and scalar type.
    ///
    /// `expectedBytes` is `Int.max` when the shape is too large to describe in memory at all.
    case sizeMismatch(tensor: String, expectedBytes: Int, actualBytes: Int)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .nonfinite(let report):
            return report.description
        case .labelOutOfRange(let box, let label, let classes):
            return "label \(label) of box \(box) (flat index b*N+n) is outside -1...\(classes - 1): "
                + "use -1 to ignore a box, 0 for background and 1...\(classes - 1) for a class, "
                + "or raise `classes` in the header if the model has more classes"
        case .sizeMismatch(let tensor, let expectedBytes, let actualBytes):
            if expectedBytes == Int.max {
                return "\(tensor) has \(actualBytes) bytes but the header's shape is too large to address; "
                    + "check `batch`, `boxes` and `classes`"
            }
            return "\(tensor) has \(actualBytes) bytes but the header's shape and dtype need \(expectedBytes); "
                + "check `batch`, `boxes`, `classes`, `dtype` and `layout` against the tensors sent"
        }
    }
}

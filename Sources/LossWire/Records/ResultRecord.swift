/// One result record, as the sidecar pushes it and the aggregator reads it.
public enum ResultRecord: Sendable, Hashable {
    /// A computed batch.
    case loss(LossRecord)
    /// A rejected batch.
    case error(WireError)

    /// The record as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        switch self {
        case .loss(let record): record.jsonLine()
        case .error(let record): record.jsonLine()
        }
    }
}

/// Why a line could not be decoded as a result record.
public struct RecordDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong with the line.
    public var reason: String

    /// Creates an error.
    public init(_ reason: String) {
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}

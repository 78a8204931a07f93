/// The result record of a batch that could not be computed (`kind = "error"`).
public struct ErrorRecord: Sendable, Hashable {
    /// `code`.
    public var code: ErrorCode
    /// `error`: a sentence a person can act on.
    public var message: String
    /// `run`, `split`, `source`, `epoch`, `step`, `seq`: those that could be read from the header.
    public var labels: BatchLabels
    /// `details`: extra facts such as non-finite counts; omitted when `nil`.
    public var details: [String: JSONValue]?

    /// Creates a record from its fields.
    public init(code: ErrorCode, message: String, labels: BatchLabels = .none, details: [String: JSONValue]? = nil) {
        self.code = code
        self.message = message
        self.labels = labels
        self.details = details
    }

    /// Creates the record of a rejected batch.
    public init(error: WireError) {
        self.init(code: error.code, message: error.message, labels: error.labels, details: error.details)
    }

    /// Writes the record as one JSON object, keys in protocol order; absent labels are omitted.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("v")
        json.int(1)
        json.key("kind")
        json.string("error")
        json.key("code")
        json.string(code.rawValue)
        json.key("error")
        json.string(message)
        for (name, value) in [("run", labels.run), ("split", labels.split), ("source", labels.source)] {
            if let value {
                json.key(name)
                json.string(value)
            }
        }
        json.optionalInt("epoch", labels.epoch)
        json.optionalInt("step", labels.step)
        json.optionalInt("seq", labels.seq)
        if let details {
            json.key("details")
            json.value(.object(details))
        }
        json.endObject()
    }

    /// The record as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        var json = JSONWriter(capacity: 256 + message.utf8.count)
        write(to: &json)
        return json.bytes
    }
}

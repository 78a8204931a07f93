import SSDLoss

/// One result record, as the sidecar pushes it and the aggregator reads it.
public enum ResultRecord: Sendable, Hashable {
    /// A computed batch.
    case loss(LossRecord)
    /// A rejected batch.
    case error(ErrorRecord)

    /// The record as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        switch self {
        case .loss(let record): record.jsonLine()
        case .error(let record): record.jsonLine()
        }
    }

    /// Decodes a record from one JSON line (a trailing newline is allowed).
    ///
    /// `null` where a number is expected decodes as NaN (the writer's spelling of a non-finite
    /// number). Unknown keys are ignored; `params`, `compute_us` and `sidecar` take defaults when absent.
    /// - Throws: ``RecordDecodingError`` when the line is not JSON, not a v1 record, or lacks a field.
    public init(jsonLine bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: bytes)
        } catch {
            throw RecordDecodingError("the line is not valid JSON: \(error)")
        }
        guard case .object(let object) = root else {
            throw RecordDecodingError("the line is \(root.typeDescription), not a record object")
        }
        let fields = RecordFields(object: object)
        guard let version = object["v"] else { throw RecordDecodingError(#"the record has no "v""#) }
        guard version == .int(1) else {
            throw RecordDecodingError(#"the record's "v" is \#(version.intValue.map(String.init) ?? version.typeDescription); only version 1 is understood"#)
        }
        switch try fields.string("kind") {
        case "loss": self = .loss(try fields.lossRecord())
        case "error": self = .error(try fields.errorRecord())
        case let kind: throw RecordDecodingError(#"the record's "kind" is "\#(kind)"; expected "loss" or "error""#)
        }
    }

    /// Decodes a record from one JSON line; see ``init(jsonLine:)-(UnsafeRawBufferPointer)``.
    public init(jsonLine bytes: [UInt8]) throws(RecordDecodingError) {
        let result: Result<ResultRecord, RecordDecodingError> = bytes.withUnsafeBytes { raw in
            Result { () throws(RecordDecodingError) -> ResultRecord in try ResultRecord(jsonLine: raw) }
        }
        self = try result.get()
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

/// Typed access to the members of a record object.
private struct RecordFields {
    let object: [String: JSONValue]

    func string(_ key: String) throws(RecordDecodingError) -> String {
        guard case .string(let value)? = object[key] else { throw missing(key, "a string") }
        return value
    }

    func optionalString(_ key: String) throws(RecordDecodingError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard case .string(let string) = value else { throw missing(key, "a string") }
        return string
    }

    func int(_ key: String, in object: [String: JSONValue]? = nil) throws(RecordDecodingError) -> Int {
        guard case .int(let value)? = (object ?? self.object)[key] else { throw missing(key, "an integer") }
        return value
    }

    func optionalInt(_ key: String) throws(RecordDecodingError) -> Int? {
        guard let value = object[key], value != .null else { return nil }
        guard case .int(let number) = value else { throw missing(key, "an integer") }
        return number
    }

    func number(_ value: JSONValue?, _ key: String) throws(RecordDecodingError) -> Double {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        case .null?: .nan
        default: throw missing(key, "a number")
        }
    }

    func missing(_ key: String, _ type: String) -> RecordDecodingError {
        if let value = object[key] {
            return RecordDecodingError(#"the record's "\#(key)" is \#(value.typeDescription); expected \#(type)"#)
        }
        return RecordDecodingError(#"the record has no "\#(key)" (\#(type))"#)
    }

    func lossRecord() throws(RecordDecodingError) -> LossRecord {
        guard case .array(let items)? = object["per_item"] else { throw missing("per_item", "an array of numbers") }
        var perItem: [Double] = []
        perItem.reserveCapacity(items.count)
        for item in items { perItem.append(try number(item, "per_item")) }
        return LossRecord(
            run: try optionalString("run") ?? "default",
            split: try optionalString("split") ?? "train",
            source: try optionalString("source") ?? "",
            epoch: try optionalInt("epoch"), step: try optionalInt("step"), seq: try optionalInt("seq"),
            shape: BatchShape(batch: try int("batch"), boxes: try int("boxes"), classes: try int("classes")),
            loss: try number(object["loss"], "loss"),
            classification: try number(object["classification"], "classification"),
            localization: try number(object["localization"], "localization"),
            perItem: perItem,
            positives: try number(object["positives"], "positives"),
            negatives: try int("negatives"),
            negativesAvailable: try int("negatives_available"),
            parameters: try parameters(),
            computeMicros: try optionalInt("compute_us") ?? 0,
            sidecar: try optionalString("sidecar") ?? "")
    }

    func parameters() throws(RecordDecodingError) -> LossParameters {
        var parameters = LossParameters()
        guard let value = object["params"], value != .null else { return parameters }
        guard case .object(let params) = value else { throw missing("params", "an object") }
        if params["neg_pos_ratio"] != nil { parameters.negPosRatio = try int("neg_pos_ratio", in: params) }
        if params["n_neg_min"] != nil { parameters.nNegMin = try int("n_neg_min", in: params) }
        if let alpha = params["alpha"] { parameters.alpha = try number(alpha, "alpha") }
        if let mining = params["mining"] {
            guard let mode = mining.stringValue.flatMap(MiningMode.init(rawValue:)) else {
                throw RecordDecodingError(#"the record's "params.mining" is not "batch" or "image""#)
            }
            parameters.mining = mode
        }
        if let scores = params["scores"] {
            guard let kind = scores.stringValue.flatMap(ScoreKind.init(rawValue:)) else {
                throw RecordDecodingError(#"the record's "params.scores" is not "probabilities" or "logits""#)
            }
            parameters.scores = kind
        }
        return parameters
    }

    func errorRecord() throws(RecordDecodingError) -> ErrorRecord {
        let codeName = try string("code")
        guard let code = ErrorCode(rawValue: codeName) else {
            throw RecordDecodingError(#"the record's "code" is "\#(codeName)", which this lossd does not know"#)
        }
        let labels = BatchLabels(
            run: try optionalString("run"), split: try optionalString("split"), source: try optionalString("source"),
            epoch: try optionalInt("epoch"), step: try optionalInt("step"), seq: try optionalInt("seq"))
        var details: [String: JSONValue]?
        switch object["details"] {
        case .object(let members)?: details = members
        case nil, .null?: details = nil
        default: throw missing("details", "an object")
        }
        return ErrorRecord(code: code, message: try string("error"), labels: labels, details: details)
    }
}

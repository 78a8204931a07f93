/// A parsed JSON value, as lossd reads headers and records.
///
/// Integers that fit in `Int` and carry no fraction or exponent are ``int(_:)``; every other number
/// is ``double(_:)``. Objects are dictionaries: lossd rejects duplicate keys while parsing, so no
/// information is lost, and ``JSONWriter`` writes their keys in sorted order.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer written without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Parses one JSON text (RFC 8259) from UTF-8 bytes.
    ///
    /// Surrounding whitespace is allowed; anything else after the value is an error. Nesting deeper
    /// than 64 levels and duplicate object keys are rejected.
    /// - Throws: ``JSONParseError`` naming the byte offset of the problem.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(JSONParseError) {
        var parser = JSONParser(bytes)
        self = try parser.parseDocument()
    }

    /// Parses one JSON text from an array of UTF-8 bytes; see ``init(parsing:)-(UnsafeRawBufferPointer)``.
    public init(parsing bytes: [UInt8]) throws(JSONParseError) {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            Result { () throws(JSONParseError) -> JSONValue in try JSONValue(parsing: raw) }
        }
        self = try result.get()
    }

    /// The value as an `Int`, when it is an integer.
    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The value as a `Double`, when it is any number.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The value as a `String`, when it is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// A short name of the value's JSON type, for error messages ("an object", "a string", …).
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Why a JSON text could not be parsed.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The byte offset where parsing stopped.
    public var offset: Int
    /// What was wrong there.
    public var reason: String

    /// Creates an error.
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// "<reason> at byte <offset>".
    public var description: String { "\(reason) at byte \(offset)" }
}

/// The conversions of a record member's value to what the record holds, with the messages that
/// name the member when its value has the wrong type or is missing.
enum RecordMember {
    /// An integer.
    static func int(_ value: JSONValue?, _ key: String) throws(RecordDecodingError) -> Int {
        guard case .int(let number)? = value else { throw mismatch(value, key, "an integer") }
        return number
    }

    /// A number; `null` is NaN, the writer's spelling of a non-finite number.
    static func number(_ value: JSONValue?, _ key: String) throws(RecordDecodingError) -> Double {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        case .null?: .nan
        default: throw mismatch(value, key, "a number")
        }
    }

    /// "the record's "key" is a string; expected an integer", or "the record has no "key" (…)".
    static func mismatch(_ value: JSONValue?, _ key: String, _ type: String) -> RecordDecodingError {
        guard let value else { return RecordDecodingError(#"the record has no "\#(key)" (\#(type))"#) }
        return RecordDecodingError(#"the record's "\#(key)" is \#(value.typeDescription); expected \#(type)"#)
    }
}

import LossWire

/// Typed access to the members of one JSON object of a state file; every failure names the path
/// of the member (`splits[3].window`) so that a damaged file says where it is damaged.
struct StateObjectReader {
    /// Where this object is in the file, e.g. `splits[3]`.
    let path: String
    private let members: [String: JSONValue]

    /// Reads `value`, which must be an object.
    init(_ value: JSONValue, path: String) throws(AggregatorStateError) {
        guard case .object(let members) = value else {
            throw .damaged(reason: "\(path.isEmpty ? "the file" : path) is \(value.typeDescription), not an object")
        }
        self.path = path
        self.members = members
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func wrong(_ key: String, _ expected: String) -> AggregatorStateError {
        let found = members[key].map(\.typeDescription) ?? "missing"
        return .damaged(reason: "\(name(key)) is \(found); expected \(expected)")
    }

    /// Whether `key` is present and not null.
    func has(_ key: String) throws(AggregatorStateError) -> Bool {
        switch members[key] {
        case nil, .null?: false
        default: true
        }
    }

    /// A required integer.
    func int(_ key: String) throws(AggregatorStateError) -> Int {
        guard case .int(let value)? = members[key] else { throw wrong(key, "an integer") }
        return value
    }

    /// An integer, or nil when absent or null.
    func optionalInt(_ key: String) throws(AggregatorStateError) -> Int? {
        switch members[key] {
        case nil, .null?: nil
        case .int(let value)?: value
        default: throw wrong(key, "an integer or null")
        }
    }

    /// A required number.
    func double(_ key: String) throws(AggregatorStateError) -> Double {
        guard let value = members[key]?.doubleValue else { throw wrong(key, "a number") }
        return value
    }

    /// A number, or nil when absent or null.
    func optionalDouble(_ key: String) throws(AggregatorStateError) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case let value?:
            guard let number = value.doubleValue else { throw wrong(key, "a number or null") }
            return number
        }
    }

    /// A number that may be `"NaN"`, `"Infinity"` or `"-Infinity"`, or nil when absent or null.
    func optionalExactDouble(_ key: String) throws(AggregatorStateError) -> Double? {
        switch members[key] {
        case nil, .null?: return nil
        case let value?:
            guard let number = JSONValue.exactDouble(value) else { throw wrong(key, "a number or null") }
            return number
        }
    }

    /// A required string.
    func string(_ key: String) throws(AggregatorStateError) -> String {
        guard case .string(let value)? = members[key] else { throw wrong(key, "a string") }
        return value
    }

    /// A required array.
    func array(_ key: String) throws(AggregatorStateError) -> [JSONValue] {
        guard case .array(let value)? = members[key] else { throw wrong(key, "an array") }
        return value
    }

    /// A required array of integers.
    func ints(_ key: String) throws(AggregatorStateError) -> [Int] {
        var result: [Int] = []
        for item in try array(key) {
            guard case .int(let value) = item else { throw wrong(key, "an array of integers") }
            result.append(value)
        }
        return result
    }

    /// A required object, as a reader.
    func object(_ key: String) throws(AggregatorStateError) -> StateObjectReader {
        guard let value = members[key] else { throw wrong(key, "an object") }
        return try StateObjectReader(value, path: name(key))
    }

    /// The members of a required object whose values are integers.
    func intMembers(_ key: String) throws(AggregatorStateError) -> [String: Int] {
        guard case .object(let object)? = members[key] else { throw wrong(key, "an object") }
        var result: [String: Int] = [:]
        for (member, value) in object {
            guard case .int(let count) = value else { throw wrong(key, "an object of integers") }
            result[member] = count
        }
        return result
    }
}

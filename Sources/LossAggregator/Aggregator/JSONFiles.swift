import Foundation

/// How the aggregator's cold-path files are written and read with Codable: the state file, the
/// snapshots (`/stats`, the snapshots file, the `stats` topic) and `lossd report`'s inputs.
///
/// Keys are written in alphabetical order, so the same value always gives the same bytes. A number
/// without a value is written as `null`, as every earlier lossd wrote it; where the state must keep
/// a value that is not finite (the latest loss of a (run, split) may be NaN), it is written as the
/// string `"NaN"`, `"Infinity"` or `"-Infinity"`.
enum JSONFiles {
    /// An encoder with sorted keys.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Encodes `value` as one line of JSON.
    static func line(_ value: some Encodable) -> [UInt8] {
        do {
            return [UInt8](try encoder().encode(value))
        } catch {
            // Every number that could be non-finite goes through `encode(finite:)` or
            // `encode(exact:)`, so nothing here can fail to encode.
            preconditionFailure("encoding \(type(of: value)) failed: \(error)")
        }
    }

    /// Decodes one `T` from `bytes`; the failure says where in the document it failed.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(JSONFileError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw JSONFileError(error)
        } catch {
            throw JSONFileError(reason: "\(error)")
        }
    }

    /// `"NaN"`, `"Infinity"` and `"-Infinity"`: the spelling of a non-finite number that must be kept.
    static func exactNumber(_ text: String) -> Double? {
        switch text {
        case "NaN": .nan
        case "Infinity": .infinity
        case "-Infinity": -.infinity
        default: nil
        }
    }
}

/// Why a JSON file could not be read, naming the place: `splits[3].window is missing`.
struct JSONFileError: Error, Sendable, CustomStringConvertible {
    /// What was wrong, and where.
    var reason: String

    init(reason: String) {
        self.reason = reason
    }

    init(_ error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text.isEmpty ? "the file" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            reason = "\(path(context.codingPath + [key])) is missing"
        case .valueNotFound(let type, let context):
            reason = "\(path(context.codingPath)) is null; expected \(Self.describe(type))"
        case .typeMismatch(let type, let context):
            reason = "\(path(context.codingPath)) is not \(Self.describe(type))"
        case .dataCorrupted(let context):
            reason =
                context.codingPath.isEmpty
                ? "it is not JSON (\(context.debugDescription))"
                : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            reason = "\(error)"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is String.Type: "a string"
        default: "\(type)".hasPrefix("Array") ? "an array" : "an object"
        }
    }

    var description: String { reason }
}

extension KeyedEncodingContainer {
    /// Writes a number, or `null` when it is nil or not finite.
    mutating func encode(finite value: Double?, forKey key: Key) throws {
        if let value, value.isFinite { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    /// Writes a number that may not be finite: NaN and ±Inf as `"NaN"`, `"Infinity"`, `"-Infinity"`.
    mutating func encode(exact value: Double, forKey key: Key) throws {
        if value.isFinite {
            try encode(value, forKey: key)
        } else {
            try encode(value.isNaN ? "NaN" : value > 0 ? "Infinity" : "-Infinity", forKey: key)
        }
    }
}

extension UnkeyedEncodingContainer {
    /// Writes a number, or `null` when it is not finite.
    mutating func encode(finite value: Double) throws {
        if value.isFinite { try encode(value) } else { try encodeNil() }
    }

    /// Writes a number that may not be finite, as ``KeyedEncodingContainer/encode(exact:forKey:)`` does.
    mutating func encode(exact value: Double) throws {
        if value.isFinite {
            try encode(value)
        } else {
            try encode(value.isNaN ? "NaN" : value > 0 ? "Infinity" : "-Infinity")
        }
    }
}

extension KeyedDecodingContainer {
    /// A number written by ``KeyedEncodingContainer/encode(exact:forKey:)``, or nil when absent or null.
    func decodeExactIfPresent(forKey key: Key) throws -> Double? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let number = try? decode(Double.self, forKey: key) { return number }
        guard let number = JSONFiles.exactNumber(try decode(String.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected a number")
        }
        return number
    }
}

extension UnkeyedDecodingContainer {
    /// A number written by ``UnkeyedEncodingContainer/encode(exact:)``; NaN for `null`.
    mutating func decodeExact() throws -> Double {
        if try decodeNil() { return .nan }
        if let number = try? decode(Double.self) { return number }
        guard let number = JSONFiles.exactNumber(try decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: self, debugDescription: "expected a number")
        }
        return number
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A strict recursive-descent JSON parser over borrowed bytes.
///
/// Used for protocol headers (at most ``WireLimits/maxHeaderBytes``) and result records; it copies
/// nothing but the strings and numbers it returns.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var depth = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// A parser positioned at `index` of `bytes`, inside `depth` open containers: for a decoder
    /// that walks most of a document itself and hands single values over (``RecordScanner``).
    init(_ bytes: UnsafeRawBufferPointer, at index: Int, depth: Int) {
        self.bytes = bytes
        self.index = index
        self.depth = depth
    }

    /// The offset of the next byte to read.
    var position: Int { index }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index != bytes.count { throw fail("unexpected bytes after the JSON value") }
        return value
    }

    // MARK: Streaming access, for decoders that walk one known shape without building a tree.

    /// The byte at the current position after whitespace, or `nil` at the end.
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    /// Consumes `{` or `[`; throws if the next value is not of that kind.
    mutating func begin(_ opening: UInt8) throws(JSONParseError) {
        guard peek() == opening else {
            throw fail(opening == UInt8(ascii: "{") ? "expected an object" : "expected an array")
        }
        try enter()
        index += 1
    }

    /// After ``begin(_:)`` with `{`: the next member's key, its colon consumed, or `nil` once the
    /// object closes. `isFirst` is true for the first call on an object.
    mutating func nextKey(isFirst: Bool) throws(JSONParseError) -> String? {
        guard try nextItem(isFirst: isFirst, closing: UInt8(ascii: "}")) else { return nil }
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let key = try parseString()
        guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
        index += 1
        skipWhitespace()
        return key
    }

    /// Like ``nextKey(isFirst:)``, but hands the key to `body` as UTF-8 bytes instead of building
    /// a `String`: viewed in place when the key is plain ASCII without escapes (the common case),
    /// decoded and validated otherwise. Returns `nil` once the object closes.
    mutating func nextKey<Result>(
        isFirst: Bool, _ body: (UnsafeRawBufferPointer) -> Result
    ) throws(JSONParseError) -> Result? {
        guard try nextItem(isFirst: isFirst, closing: UInt8(ascii: "}")) else { return nil }
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        var end = index + 1
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            end += 1
        }
        let result: Result
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            result = body(UnsafeRawBufferPointer(rebasing: bytes[(index + 1)..<end]))
            index = end + 1
        } else {
            var key = try parseString()
            result = key.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        }
        guard peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
        index += 1
        skipWhitespace()
        return result
    }

    /// Consumes `literal` when the bytes at the current position spell exactly it, whitespace
    /// included; otherwise consumes nothing and returns false. For decoders that try the writer's
    /// own spelling of a known member (`,"positives":`) before the general ``nextKey(isFirst:_:)``.
    mutating func consume(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count, let base = bytes.baseAddress else { return false }
        guard memcmp(base + index, literal.utf8Start, count) == 0 else { return false }
        index += count
        return true
    }

    /// After ``begin(_:)`` with `[`: true when another element follows (positioned at it), false
    /// once the array closes.
    mutating func nextElement(isFirst: Bool) throws(JSONParseError) -> Bool {
        try nextItem(isFirst: isFirst, closing: UInt8(ascii: "]"))
    }

    private mutating func nextItem(isFirst: Bool, closing: UInt8) throws(JSONParseError) -> Bool {
        guard let byte = peek() else { throw fail("unexpected end of JSON") }
        if byte == closing {
            index += 1
            depth -= 1
            return false
        }
        if !isFirst {
            guard byte == UInt8(ascii: ",") else {
                throw fail("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
            }
            index += 1
            skipWhitespace()
        }
        return true
    }

    /// Consumes the next value if it is a number, checking it against the JSON number grammar
    /// without converting it; returns false (consuming nothing) when the next value is not a number.
    mutating func skipNumber() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        let first = bytes[index]
        guard first == UInt8(ascii: "-") || isDigit(first) else { return false }
        if first == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return true
    }

    /// Parses the next value of any kind.
    mutating func value() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        return try parseValue()
    }

    /// Checks that only whitespace follows the value just parsed.
    mutating func finish() throws(JSONParseError) {
        if peek() != nil { throw fail("unexpected bytes after the JSON value") }
    }

    private func fail(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw fail("unexpected end of JSON") }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw fail("invalid literal")
        }
        index += count
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maxDepth { throw fail("JSON nested deeper than \(Self.maxDepth) levels") }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw fail("expected a string key")
            }
            let keyOffset = index
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            if object.updateValue(value, forKey: key) != nil {
                throw JSONParseError(offset: keyOffset, reason: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            return .object(object)
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of JSON") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            index += 1
            return .array(array)
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                guard let string = Self.string(slice) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            index += 1
        }
        var utf8 = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let string = String(validating: utf8, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unexpected end of JSON") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): utf8.append(0x22)
                case UInt8(ascii: "\\"): utf8.append(0x5C)
                case UInt8(ascii: "/"): utf8.append(0x2F)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("unpaired surrogate in \\u escape") }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    utf8.append(contentsOf: String(Character(unicode)).utf8)
                default:
                    throw fail("invalid escape")
                }
            default:
                if byte < 0x20 { throw fail("control character in string") }
                utf8.append(byte)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    /// `bytes` as a string; ASCII (the common case for keys and labels) skips full UTF-8 validation.
    static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        guard ascii else { return String(validating: bytes, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: bytes.count) { buffer in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            return bytes.count
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw fail("unexpected end of JSON") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw fail("unexpected end of JSON")
        }
        switch JSONNumber.read(from: base + index, to: base + bytes.count) {
        case .number(let number, let next):
            index = next - base
            switch number {
            case .int(let value): return .int(value)
            case .double(let value): return .double(value)
            }
        case .invalid(let stop):
            throw JSONParseError(offset: stop - base, reason: "invalid number")
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are exactly `name`'s UTF-8: how the record decoders match a key
    /// viewed in place (``JSONParser/nextKey(isFirst:_:)``) without building a `String`.
    func spells(_ name: StaticString) -> Bool {
        guard let base = baseAddress, name.utf8CodeUnitCount == count else { return false }
        return memcmp(base, name.utf8Start, count) == 0
    }
}

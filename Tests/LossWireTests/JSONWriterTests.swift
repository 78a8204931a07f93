import Testing

@testable import LossWire

@Suite("JSON writer and parser")
struct JSONWriterTests {
    private func text(_ build: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        build(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test(arguments: [
        ("plain", #""plain""#),
        ("quote \" and backslash \\", #""quote \" and backslash \\""#),
        ("line\nreturn\rtab\tback\u{8}feed\u{C}", #""line\nreturn\rtab\tback\bfeed\f""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("słoń 🐘 \u{7F}", "\"słoń 🐘 \u{7F}\""),
        ("/slash", #""/slash""#),
    ])
    func escapesStrings(input: String, expected: String) throws {
        #expect(text { $0.string(input) } == expected)
        // And the parser reads the same string back.
        let parsed = try JSONValue(parsing: Array(expected.utf8))
        #expect(parsed == .string(input))
    }

    @Test(arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (-2.5, "-2.5"), (1e-7, "1e-07"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (Double.nan, "null"), (Double.infinity, "null"), (-Double.infinity, "null"),
        (Double.leastNonzeroMagnitude, "5e-324"),
    ])
    func writesShortestDoublesAndNullForNonFinite(value: Double, expected: String) throws {
        #expect(text { $0.double(value) } == expected)
        if value.isFinite {
            #expect(try JSONValue(parsing: Array(expected.utf8)).doubleValue == value)
        }
    }

    @Test func writesIntegersAndNesting() {
        let json = text { writer in
            writer.beginObject()
            writer.key("a")
            writer.int(Int.min)
            writer.key("b")
            writer.beginArray()
            writer.int(0)
            writer.int(42)
            writer.bool(true)
            writer.null()
            writer.endArray()
            writer.key("c")
            writer.value(.object(["z": .int(1), "y": .array([]), "x": .object([:])]))
            writer.endObject()
        }
        #expect(json == #"{"a":-9223372036854775808,"b":[0,42,true,null],"c":{"x":{},"y":[],"z":1}}"#)
    }

    @Test func parsesNumbersStrictly() throws {
        #expect(try JSONValue(parsing: Array("12".utf8)) == .int(12))
        #expect(try JSONValue(parsing: Array("-0".utf8)) == .int(0))
        #expect(try JSONValue(parsing: Array("1.0".utf8)) == .double(1.0))
        #expect(try JSONValue(parsing: Array("1e2".utf8)) == .double(100))
        #expect(try JSONValue(parsing: Array("99999999999999999999".utf8)) == .double(1e20))
        for bad in ["01", "1.", ".5", "+1", "1e", "-", "NaN", "Infinity", "0x10"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue(parsing: Array(bad.utf8)) }
        }
    }

    @Test func parsesEscapesAndRejectsBadInput() throws {
        #expect(try JSONValue(parsing: Array(#""\u00e9\ud83d\udc18""#.utf8)) == .string("é🐘"))
        let bad = [
            #"{"a":1,"a":2}"#, #"{"a":1,}"#, "[1,]", #""\ud800""#, "\"tab\tinside\"", "{} x", "", "tru",
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ]
        for text in bad {
            #expect(throws: JSONParseError.self, "\(text)") { try JSONValue(parsing: Array(text.utf8)) }
        }
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: [0x22, 0xFF, 0x22]) }
    }

    @Test func parsesNumbersExactlyAsTheStandardLibrary() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = [
            "0.1", "1.5e-10", "123456789012345.6", "9007199254740993", "1e22", "1e23", "4.9e-324",
            "0.000000000000000000000001", "-123.456e7", "17976931348623157e292", "2.2250738585072014e-308",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        ]
        for _ in 0..<2000 {
            texts.append(Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF).description)
            texts.append((Double(generator.next() % 1_000_000) / 1000).description)
            texts.append(Double.random(in: -1e6...1e6, using: &generator).description)
        }
        for text in texts {
            let parsed = try JSONValue(parsing: Array(text.utf8))
            if let integer = Int(text) {
                #expect(parsed == .int(integer), "\(text)")
            } else {
                #expect(parsed.doubleValue == Double(text), "\(text)")
            }
        }
    }
}

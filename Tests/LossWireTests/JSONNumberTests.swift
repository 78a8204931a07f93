import Foundation
import Testing

@testable import LossWire

#if canImport(Glibc)
import Glibc
#endif

/// JSON numbers as both record decoders read them (``JSONNumber``, behind ``JSONParser`` and
/// ``RecordScanner``), against glibc's `strtod`, bit for bit.
@Suite("JSON numbers")
struct JSONNumberTests {
    /// `strtod` of `text`.
    private func strtodValue(_ text: String) -> Double {
        text.withCString { strtod($0, nil) }
    }

    /// The number as the general parser reads it.
    private func parsed(_ text: String) throws -> Double {
        try #require(try JSONValue(parsing: Array(text.utf8)).doubleValue)
    }

    /// The number as the record scanner reads it, in the `loss` member of a sidecar's record.
    private func scanned(_ text: String) throws -> Double {
        let line = String(decoding: RecordScannerTests.sidecarRecord.jsonLine(), as: UTF8.self)
            .replacingOccurrences(of: "17.544470788987955", with: text)
        let record = try #require(Array(line.utf8).withUnsafeBytes { RecordScanner.record($0, decodingPerItem: true) })
        return record.loss
    }

    @Test(arguments: [
        // Zeros, and the sign of a zero written as a decimal.
        "0.0", "-0.0", "0e0", "-0e-5", "0.000", "-0.0e+10",
        // Exponents: both letters, both signs, leading zeros in the exponent, far out of range.
        "1E5", "1e+5", "1e-5", "1e0005", "0.1e1", "100e-2", "1e22", "1e23", "9007199254740993e-22",
        "1e-400", "-1e-400", "1e400", "-1e400", "123.456e-310",
        // 15, 16, 17, 19 and 20 significant digits, with and without a fraction.
        "123456789012345.0", "0.123456789012345", "1234567890123456.7", "0.1234567890123456",
        "17.544470788987955", "0.30000000000000004", "1234567890123456789.0", "0.1234567890123456789",
        "12345678901234567890.5", "0.12345678901234567891", "98765432109876543210e-5",
        // Integers written as decimals past 2^53, ties and not.
        "9007199254740993.0", "9007199254740995.0", "18014398509481986.0", "9223372036854775807.0",
        // Subnormals and the edges of the range.
        "5e-324", "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        // Many digits, where only strtod decides.
        "3.14159265358979323846264338327950288419716939937510",
        "0.000000000000000000000000000000000000000000001234567890123456789012",
        "2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996e-324",
    ])
    func decimalsAgreeWithStrtod(_ text: String) throws {
        for written in [text, "-" + text] where !(written.hasPrefix("--")) {
            let reference = strtodValue(written)
            let general = try parsed(written)
            let fast = try scanned(written)
            #expect(general.bitPattern == reference.bitPattern, "\(written): \(general) against strtod's \(reference)")
            #expect(fast.bitPattern == reference.bitPattern, "\(written): \(fast) against strtod's \(reference)")
        }
    }

    @Test(arguments: [
        "0", "7", "-7", "123456789012345", "9007199254740993", "9223372036854775807", "-9223372036854775808",
    ])
    func integersFitInInt(_ text: String) throws {
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(value == .int(try #require(Int(text))))
        // As a number member, an integer converts with one rounding, as strtod does.
        #expect(try scanned(text).bitPattern == strtodValue(text).bitPattern)
    }

    @Test(arguments: ["9223372036854775808", "-9223372036854775809", "12345678901234567890123"])
    func integersBeyondIntAreDoubles(_ text: String) throws {
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(value == .double(strtodValue(text)))
        #expect(try scanned(text).bitPattern == strtodValue(text).bitPattern)
    }

    @Test func randomDoublesPrintedEveryWayAgreeWithStrtod() throws {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for round in 0..<100_000 {
            // Every finite bit pattern, subnormals included.
            let exponent = UInt64.random(in: 0...0x7FE, using: &generator)
            var value = Double(bitPattern: generator.next() & ~(0x7FF << 52) | exponent << 52)
            if round % 10 == 0 { value = Double(bitPattern: generator.next() & 0x000F_FFFF_FFFF_FFFF) }
            let formats = ["%.15g", "%.16g", "%.17g", "%.19g", "%.20g", "%.25e"]
            let texts = [value.description] + [String(format: formats[round % formats.count], value)]
            for text in texts where !text.contains("inf") && !text.contains("nan") {
                let reference = strtodValue(text)
                if try parsed(text).bitPattern != reference.bitPattern { mismatches.append(text) }
                if round % 8 == 0, try scanned(text).bitPattern != reference.bitPattern {
                    mismatches.append("scan " + text)
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    @Test func randomDigitStringsWithExponentsAgreeWithStrtod() throws {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for round in 0..<100_000 {
            let count = Int.random(in: 1...24, using: &generator)
            var digits = (0..<count).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
            if digits.first == "0" { digits = "1" + digits.dropFirst() }
            let point = Int.random(in: 1...count, using: &generator)
            var text = String(digits.prefix(point))
            if point < count || round % 2 == 0 {
                text += "." + (point == count ? "0" : String(digits.dropFirst(point)))
            }
            if round % 3 != 0 { text += "e\(Int.random(in: -345...310, using: &generator))" }
            if round % 5 == 0 { text = "-" + text }
            let reference = strtodValue(text)
            let value = try JSONValue(parsing: Array(text.utf8))
            let general = value.doubleValue ?? .nan
            if general.bitPattern != reference.bitPattern { mismatches.append(text) }
            if round % 8 == 0, try scanned(text).bitPattern != reference.bitPattern {
                mismatches.append("scan " + text)
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    @Test(arguments: [
        ("-", 1), ("1.", 2), ("1.e5", 2), ("1e", 2), ("1e+", 3), ("1E-", 3), ("-.5", 1), ("--1", 1),
    ])
    func malformedNumbersAreRejectedWhereTheGrammarBreaks(_ text: String, offset: Int) {
        #expect(throws: JSONParseError(offset: offset, reason: "invalid number")) {
            _ = try JSONValue(parsing: Array(text.utf8))
        }
    }

    @Test(arguments: ["01", "-01", "+1", ".5", "0x10", "1f", "Infinity", "-Infinity", "NaN", "1_000", "1e5.5", "1 2"])
    func textThatIsNotOneNumberIsRejected(_ text: String) throws {
        #expect(throws: JSONParseError.self) { _ = try JSONValue(parsing: Array(text.utf8)) }
        let line = String(decoding: RecordScannerTests.sidecarRecord.jsonLine(), as: UTF8.self)
            .replacingOccurrences(of: "17.544470788987955", with: text)
        let bytes = Array(line.utf8)
        #expect(bytes.withUnsafeBytes { RecordScanner.record($0, decodingPerItem: false) } == nil)
        #expect(throws: RecordDecodingError.self) { _ = try ResultRecord(jsonLine: bytes) }
    }
}

import Foundation
import Testing

@testable import LossWire

/// The parser's conversion of decimal numbers without `strtod` (``DecimalQuotient``) against
/// `strtod` itself, on the numbers lossd writes and on the cases that decide rounding.
struct DecimalQuotientTests {
    /// The parsed value of `text` as a JSON number, and `strtod`'s.
    private func bothWays(_ text: String) throws -> (parsed: Double, strtod: Double) {
        let parsed = try JSONValue(parsing: Array(text.utf8))
        let bytes = Array(text.utf8)
        let reference = try #require(bytes.withUnsafeBytes { CNumber.parseDouble($0) })
        return (try #require(parsed.doubleValue), reference)
    }

    @Test(arguments: [
        // Ties between two doubles, exactly: 2^53 + 1, 2^53 + 3 and 2^54 + 2 round to even.
        "9007199254740993.0", "9007199254740995.0", "18014398509481986.0",
        // Just above and below those ties.
        "9007199254740993.0000000001", "9007199254740992.9999999999",
        // Around powers of two, where the gap below is half the gap above.
        "0.5", "0.49999999999999997", "0.50000000000000006", "1.0000000000000002", "0.99999999999999989",
        "4503599627370496.5", "4503599627370497.5",
        // As lossd writes them.
        "17.544470788987955", "0.006298671552908841", "20850.374001524353", "147.71214141332368",
        "2.220446049250313e-16", "1.7976931348623157e308", "5e-324", "0.1", "0.30000000000000004",
        // Nineteen digits, and more than that (strtod then).
        "0.1234567890123456789", "1234567890.123456789", "0.12345678901234567891234",
    ])
    func agreesWithStrtod(_ text: String) throws {
        let (parsed, reference) = try bothWays(text)
        #expect(parsed.bitPattern == reference.bitPattern, "\(text): \(parsed) against strtod's \(reference)")
        let (negated, negatedReference) = try bothWays("-" + text)
        #expect(negated.bitPattern == negatedReference.bitPattern)
    }

    @Test func readsBackEveryPrintedDouble() throws {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for round in 0..<200_000 {
            // Magnitudes from 1e-12 to 1e12, and every bit pattern in between.
            let magnitude = Double.random(in: -12...12, using: &generator)
            let value = Double.random(in: 1..<10, using: &generator) * pow10(magnitude)
            let text = round % 2 == 0 ? "\(value)" : String(format: "%.17g", value)
            guard text.contains(".") || text.contains("e") else { continue }
            let (parsed, reference) = try bothWays(text)
            if parsed.bitPattern != reference.bitPattern { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    @Test func decidesRandomDigitStrings() throws {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [String] = []
        for _ in 0..<200_000 {
            // 1 to 19 random digits, the point anywhere among them (or in front, after zeros).
            let count = Int.random(in: 1...19, using: &generator)
            var digits = (0..<count).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
            if digits.first == "0" { digits = "1" + digits.dropFirst() }
            let point = Int.random(in: -3...count, using: &generator)
            let text =
                point <= 0
                ? "0." + String(repeating: "0", count: -point) + digits
                : String(digits.prefix(point)) + "." + (point == count ? "0" : String(digits.dropFirst(point)))
            let (parsed, reference) = try bothWays(text)
            if parsed.bitPattern != reference.bitPattern { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    @Test func quotientsItCannotDecideGoToStrtod() {
        #expect(DecimalQuotient.nearest(0, dividedByPowerOfTen: 3) == nil)
        #expect(DecimalQuotient.nearest(1, dividedByPowerOfTen: 20) == nil)
        #expect(DecimalQuotient.nearest(1, dividedByPowerOfTen: 19) == 1e-19)
        #expect(DecimalQuotient.nearest(17_544_470_788_987_955, dividedByPowerOfTen: 15) == 17.544470788987955)
    }

    private func pow10(_ exponent: Double) -> Double {
        var value = 1.0
        let whole = Int(exponent.rounded(.down))
        for _ in 0..<abs(whole) { value = whole < 0 ? value / 10 : value * 10 }
        return value
    }
}

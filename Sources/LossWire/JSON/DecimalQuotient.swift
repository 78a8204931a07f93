/// The double nearest to a decimal fraction m / 10^k, found without `strtod` for the numbers
/// record lines are made of.
///
/// lossd writes each double as the shortest digits that read back to it, often 16 or 17
/// significant digits (`17.544470788987955`). That is past Clinger's fast path (at most 15 digits,
/// see ``JSONParser``), and glibc's `strtod` then takes its multi-precision route: a fifth of the
/// aggregator's decoding time for records with per-class figures. Swift's standard library
/// converts through `strtod` as well, and no package lossd may use parses decimals, so this is
/// written here.
///
/// The quotient is first approximated in floating point, as the mantissa times the rounded
/// reciprocal of the power of ten (three roundings: within three units in the last place; a
/// multiplication instead of a division, whose latency was a third of this function's time in
/// a profile), and then checked exactly: the decimal is compared with the midpoints between the
/// candidate and its neighbours in 128-bit integers, the candidate moved one place while it is
/// not the nearest, ties going to the even significand as IEEE 754 and `strtod` round. With at
/// most 19 digits and 19 places both sides fit in 118 bits; past 19 places the answer is nil and
/// the caller converts with `strtod`.
enum DecimalQuotient {
    /// 10^k for k in 0...19, exact.
    private static let powersOfTen: [UInt64] = (0...19).map { exponent in
        var value: UInt64 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// 1 / 10^k for k in 0...19, each correctly rounded (10^k itself is exact in a double).
    private static let reciprocals: [Double] = powersOfTen.map { 1 / Double($0) }

    /// The double nearest to `mantissa` / 10^`places`, or nil when this cannot decide it.
    ///
    /// - Parameters:
    ///   - mantissa: the decimal's significant digits, exactly (not zero).
    ///   - places: digits after the decimal point, 0...19.
    static func nearest(_ mantissa: UInt64, dividedByPowerOfTen places: Int) -> Double? {
        guard mantissa != 0, places >= 0, places < powersOfTen.count else { return nil }
        let power = powersOfTen[places]
        let mantissaBits = UInt64.bitWidth - mantissa.leadingZeroBitCount
        var candidate = Double(mantissa) * reciprocals[places]
        for _ in 0..<6 {
            guard candidate.isNormal else { return nil }
            // candidate = significand × 2^exponent, with a 53-bit integer significand.
            let significand = candidate.significandBitPattern | (1 << 52)
            let exponent = Int(candidate.exponent) - 52
            // Both sides of "mantissa / 10^places against (2 × significand ± 1) × 2^(exponent − 1)",
            // multiplied by 10^places × 2^(1 − exponent) (one more doubling for the narrower gap
            // below a power of two), must fit in 128 bits.
            let shift = 1 - exponent
            guard shift >= 0, mantissaBits + shift + 1 <= 127 else { return nil }
            let scaled = UInt128(mantissa) << shift
            let upper = product(2 * significand + 1, power)
            if scaled > upper || (scaled == upper && significand & 1 == 1) {
                candidate = candidate.nextUp
                continue
            }
            if candidate.significandBitPattern == 0 {
                // Below a power of two the next double down is half as far: its midpoint is
                // (4 × significand − 1) × 2^(exponent − 2). The significand here is even, so a tie stays.
                if scaled << 1 < product(4 * significand - 1, power) {
                    candidate = candidate.nextDown
                    continue
                }
            } else {
                let lower = product(2 * significand - 1, power)
                if scaled < lower || (scaled == lower && significand & 1 == 1) {
                    candidate = candidate.nextDown
                    continue
                }
            }
            return candidate
        }
        return nil
    }

    /// `a` × `b` in full: one 64 × 64 → 128-bit multiplication (both factors are below 2^64, so
    /// the product cannot overflow and needs no check).
    @inline(__always)
    private static func product(_ a: UInt64, _ b: UInt64) -> UInt128 {
        let (high, low) = a.multipliedFullWidth(by: b)
        return UInt128(high) << 64 | UInt128(low)
    }
}

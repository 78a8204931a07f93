/// A JSON number read from its text, as ``JSONParser`` and ``RecordScanner`` read numbers: one
/// implementation of the grammar check and of the conversion, so that both decoders give the
/// same value for the same text, bit for bit.
///
/// Integers written without fraction or exponent that fit in `Int` are ``int(_:)``; every other
/// number is ``double(_:)``, the double nearest to the decimal (ties to even), as `strtod` gives it.
enum JSONNumber: Equatable {
    /// An integer without fraction or exponent that fits in `Int`.
    case int(Int)
    /// Any other number.
    case double(Double)

    /// The outcome of ``read(from:to:)``.
    enum Scan {
        /// The number, and the position just after its text.
        case number(JSONNumber, UnsafePointer<UInt8>)
        /// The text is not a JSON number; the position is where the grammar check stopped.
        case invalid(UnsafePointer<UInt8>)
    }

    /// The number as a `Double` (an integer converted, rounding to nearest as `strtod` would).
    var doubleValue: Double {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        }
    }

    /// Reads the number whose text starts at `start` (a `-` or a digit), stopping at `end`.
    ///
    /// Up to 19 significant digits are accumulated exactly; then, in order: an integer that fits
    /// in `Int`; Clinger's fast path (at most 15 digits scaled by an exact power of ten, one
    /// rounding); ``DecimalQuotient`` for the 16 to 19 digits with at most 19 places lossd writes
    /// itself; `strtod` for the rest (``CNumber``).
    @inline(__always)
    static func read(from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>) -> Scan {
        var cursor = start
        var negative = false
        if cursor < end, cursor.pointee == UInt8(ascii: "-") {
            negative = true
            cursor += 1
        }
        guard cursor < end, isDigit(cursor.pointee) else { return .invalid(cursor) }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        // Whether a nonzero digit was dropped, so that the mantissa is not the number's exactly.
        var dropped = false
        if cursor.pointee == UInt8(ascii: "0") {
            cursor += 1
        } else {
            while cursor < end {
                // Eight digits at once while they fit among the 19 kept (the first is not 0).
                if digits <= 11, end - cursor >= 8, let eight = eightDigits(at: cursor) {
                    mantissa = mantissa &* 100_000_000 &+ eight
                    digits += 8
                    cursor += 8
                    continue
                }
                let digit = cursor.pointee &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    digits += 1
                } else {
                    exponent += 1
                    if digit != 0 { dropped = true }
                }
                cursor += 1
            }
        }
        var isInteger = true
        if cursor < end, cursor.pointee == UInt8(ascii: ".") {
            isInteger = false
            cursor += 1
            guard cursor < end, isDigit(cursor.pointee) else { return .invalid(cursor) }
            while cursor < end {
                // Eight digits at once once a nonzero digit was kept (so that every one counts).
                if mantissa != 0, digits <= 11, end - cursor >= 8, let eight = eightDigits(at: cursor) {
                    mantissa = mantissa &* 100_000_000 &+ eight
                    digits += 8
                    exponent -= 8
                    cursor += 8
                    continue
                }
                let digit = cursor.pointee &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                } else if digit != 0 {
                    dropped = true
                }
                cursor += 1
            }
        }
        var explicitExponent = 0
        if cursor < end, cursor.pointee | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            cursor += 1
            var exponentNegative = false
            if cursor < end, cursor.pointee == UInt8(ascii: "+") || cursor.pointee == UInt8(ascii: "-") {
                exponentNegative = cursor.pointee == UInt8(ascii: "-")
                cursor += 1
            }
            guard cursor < end, isDigit(cursor.pointee) else { return .invalid(cursor) }
            while cursor < end {
                let digit = cursor.pointee &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                if explicitExponent < 100_000 { explicitExponent = explicitExponent * 10 + Int(digit) }
                cursor += 1
            }
            if exponentNegative { explicitExponent = -explicitExponent }
        }
        if isInteger, digits < 19 || (digits == 19 && exponent == 0) {
            // Exact: at most 19 digits, so it fits in UInt64.
            if !negative, mantissa <= UInt64(Int.max) { return .number(.int(Int(mantissa)), cursor) }
            if negative, mantissa <= UInt64(Int.max) + 1 {
                return .number(.int(Int(truncatingIfNeeded: 0 &- mantissa)), cursor)
            }
        }
        let scale = exponent + explicitExponent
        if !isInteger, let value = nearest(mantissa, digits: digits, scale: scale, dropped: dropped) {
            return .number(.double(negative ? -value : value), cursor)
        }
        let text = UnsafeRawBufferPointer(start: start, count: cursor - start)
        guard let value = CNumber.parseDouble(text) else { return .invalid(start) }
        return .number(.double(value), cursor)
    }

    /// The double nearest to `mantissa` × 10^`scale` when it can be had without `strtod`, else nil.
    @inline(__always)
    private static func nearest(_ mantissa: UInt64, digits: Int, scale: Int, dropped: Bool) -> Double? {
        // Clinger's fast path: an exact mantissa below 2^53 scaled by an exact power of ten rounds once.
        if digits <= 15, scale >= -22, scale <= 22 {
            let value = Double(mantissa)
            return scale < 0 ? value / powersOfTen[-scale] : value * powersOfTen[scale]
        }
        // The digits lossd writes itself (16 or 17 of them, a few decimal places): exactly, without strtod.
        guard !dropped, scale <= 0 else { return nil }
        return DecimalQuotient.nearest(mantissa, dividedByPowerOfTen: -scale)
    }

    /// Checks the number whose text starts at `start` against the JSON number grammar without
    /// converting it; returns the position after it, or nil when the text is not a number.
    @inline(__always)
    static func skip(from start: UnsafePointer<UInt8>, to end: UnsafePointer<UInt8>) -> UnsafePointer<UInt8>? {
        var cursor = start
        if cursor < end, cursor.pointee == UInt8(ascii: "-") { cursor += 1 }
        guard cursor < end, isDigit(cursor.pointee) else { return nil }
        if cursor.pointee == UInt8(ascii: "0") {
            cursor += 1
        } else {
            cursor = skipDigits(cursor, end)
        }
        if cursor < end, cursor.pointee == UInt8(ascii: ".") {
            cursor += 1
            guard cursor < end, isDigit(cursor.pointee) else { return nil }
            cursor = skipDigits(cursor, end)
        }
        if cursor < end, cursor.pointee | 0x20 == UInt8(ascii: "e") {
            cursor += 1
            if cursor < end, cursor.pointee == UInt8(ascii: "+") || cursor.pointee == UInt8(ascii: "-") { cursor += 1 }
            guard cursor < end, isDigit(cursor.pointee) else { return nil }
            cursor = skipDigits(cursor, end)
        }
        return cursor
    }

    /// The value of the eight bytes at `start` when all are ASCII digits (the first the most
    /// significant), else nil: one load, a check of every byte at once and three multiplications
    /// instead of eight dependent steps (the SWAR conversion of Lemire's fast_float).
    @inline(__always)
    private static func eightDigits(at start: UnsafePointer<UInt8>) -> UInt64? {
        let chunk = UInt64(littleEndian: UnsafeRawPointer(start).loadUnaligned(as: UInt64.self))
        // A byte below '0' sets its top bit in the difference, one above '9' in the sum.
        let outside = (chunk &+ 0x4646_4646_4646_4646) | (chunk &- 0x3030_3030_3030_3030)
        guard outside & 0x8080_8080_8080_8080 == 0 else { return nil }
        var value = chunk &- 0x3030_3030_3030_3030
        value = value &* 10 &+ (value >> 8)
        let pairs: UInt64 = 0x0000_00FF_0000_00FF
        value = ((value & pairs) &* 0x000F_4240_0000_0064 &+ ((value >> 16) & pairs) &* 0x0000_2710_0000_0001) >> 32
        return value
    }

    @inline(__always)
    private static func skipDigits(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> UnsafePointer<UInt8> {
        var cursor = start
        while end - cursor >= 8, eightDigits(at: cursor) != nil { cursor += 8 }
        while cursor < end, isDigit(cursor.pointee) { cursor += 1 }
        return cursor
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") <= 9
    }

    /// 10^k for k in 0...22, each exact in a double.
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }
}

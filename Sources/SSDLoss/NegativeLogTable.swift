/// `-log(max(p, 1e-15))` for every 16-bit pattern of a float16 or bfloat16 probability.
///
/// A 16-bit probability has only 65,536 possible values, so its loss term is looked up rather
/// than computed: one load replaces the widening, the clip and the logarithm that dominated the
/// per-box cost of 16-bit batches. Each table holds exactly what ``vectorLog(_:)`` gives for the
/// value (so `log(1) = 0` exactly, and a loss is zero exactly when the probability is 1), is
/// built on first use (about a millisecond, once per process) and takes 512 KiB. Entries for
/// NaN and ±Inf patterns are meaningless; batches holding those are rejected anyway.
enum NegativeLogTable {
    /// The table for IEEE 754 binary16 patterns.
    nonisolated(unsafe) static let float16: UnsafePointer<Double> = build { halfToFloat(UInt32($0)) }
    /// The table for bfloat16 patterns.
    nonisolated(unsafe) static let bfloat16: UnsafePointer<Double> = build { Float(bitPattern: UInt32($0) &<< 16) }

    private static func build(_ value: (UInt16) -> Float) -> UnsafePointer<Double> {
        let table = UnsafeMutablePointer<Double>.allocate(capacity: 1 << 16)
        for start in stride(from: 0, to: 1 << 16, by: 8) {
            var arguments = SIMD8<Double>(repeating: 1)
            for lane in 0..<8 {
                let p = Double(value(UInt16(start + lane)))
                // NaN fails both comparisons and stays 1; ±Inf and huge values are clipped to a
                // normal argument so the logarithm stays defined.
                if p >= ProbabilityScoring.floor, p <= 1e300 {
                    arguments[lane] = p
                } else if !(p >= ProbabilityScoring.floor), !p.isNaN {
                    arguments[lane] = ProbabilityScoring.floor
                }
            }
            let losses = -vectorLog(arguments)
            for lane in 0..<8 { table[start + lane] = losses[lane] }
        }
        return UnsafePointer(table)
    }
}

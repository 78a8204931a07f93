import Foundation

/// One axis of a chart: the domain it shows, where its ticks go and how they are labelled.
///
/// Ticks fall on "nice" numbers (1, 2, 2.5 or 5 times a power of ten), about `targetTicks` of
/// them. A y axis is widened to whole ticks so that the curves never touch the frame; an x axis
/// keeps the data's exact extent so that the curves span the whole width.
struct ChartAxis: Sendable, Hashable {
    /// The smallest value shown.
    var lower: Double
    /// The largest value shown.
    var upper: Double
    /// The distance between ticks.
    var step: Double
    /// The tick values, inside `lower...upper`.
    var ticks: [Double]

    /// An axis for values in `minimum...maximum`.
    ///
    /// - Parameters:
    ///   - integers: the values are counts; ticks are whole numbers.
    ///   - fromZero: the axis starts at 0 (for counts).
    ///   - widenToTicks: the domain is rounded out to whole ticks (y axes).
    init(
        minimum: Double, maximum: Double, targetTicks: Int = 5, integers: Bool = false, fromZero: Bool = false,
        widenToTicks: Bool
    ) {
        var low = fromZero ? Swift.min(0, minimum) : minimum
        var high = maximum
        if !(low.isFinite && high.isFinite) {
            low = 0
            high = 1
        }
        if high <= low {
            // One value: show it in the middle of a small range.
            let pad = integers ? 1 : Swift.max(abs(low) * 0.05, 1e-6)
            high = low + pad
            if !fromZero || low - pad >= 0 { low -= pad }
        }
        var step = Self.niceStep((high - low) / Double(Swift.max(1, targetTicks)))
        if integers { step = Swift.max(1, step.rounded(.up)) }
        if widenToTicks {
            low = (low / step).rounded(.down) * step
            high = (high / step).rounded(.up) * step
            if high <= low { high = low + step }
        }
        var ticks: [Double] = []
        var tick = (low / step).rounded(.up) * step
        while tick <= high + step * 1e-9, ticks.count < 50 {
            // Avoid labels such as 0.30000000000000004 and −0.
            let rounded = (tick / step).rounded() * step
            ticks.append(rounded == 0 ? 0 : rounded)
            tick += step
        }
        self.lower = low
        self.upper = high
        self.step = step
        self.ticks = ticks
    }

    /// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Where `value` falls between `from` (at ``lower``) and `to` (at ``upper``).
    func position(_ value: Double, from: Double, to: Double) -> Double {
        from + (value - lower) / (upper - lower) * (to - from)
    }

    /// A tick's label: compact (12k, 1.5M) for large numbers, with as many decimals as the step
    /// needs otherwise.
    func label(_ value: Double) -> String {
        ChartAxis.format(value, step: step, scale: Swift.max(abs(lower), abs(upper)))
    }

    /// `value` written with the precision that `step` calls for, in the unit (none, k, M) that
    /// `scale` (the axis's largest magnitude, so that every tick has the same unit) calls for.
    static func format(_ value: Double, step: Double, scale: Double? = nil) -> String {
        let magnitude = scale ?? Swift.max(abs(value), step)
        if magnitude >= 1_000_000 {
            return trimmed(value / 1_000_000, decimals: decimals(for: step / 1_000_000)) + "M"
        }
        if magnitude >= 10_000 {
            return trimmed(value / 1000, decimals: decimals(for: step / 1000)) + "k"
        }
        return trimmed(value, decimals: decimals(for: step))
    }

    /// Decimals needed to tell ticks `step` apart.
    private static func decimals(for step: Double) -> Int {
        guard step > 0, step.isFinite, step < 1 else { return 0 }
        var decimals = Int((-log10(step)).rounded(.up))
        // 0.25, 0.025: one more digit than the power of ten.
        let scaled = step * pow(10, Double(decimals))
        if abs(scaled - scaled.rounded()) > 1e-9 { decimals += 1 }
        return Swift.min(decimals, 12)
    }

    private static func trimmed(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        return text == "-0" ? "0" : text
    }
}

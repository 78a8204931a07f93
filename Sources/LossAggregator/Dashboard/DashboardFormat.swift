import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the dashboard writes numbers, counts, times and ages.
enum DashboardFormat {
    /// A statistic with `digits` significant digits, or an en dash when there is none.
    static func value(_ value: Double?, digits: Int = 4) -> String {
        guard let value else { return "–" }
        guard value.isFinite else { return value.isNaN ? "NaN" : value > 0 ? "+Inf" : "−Inf" }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-4 { return String(format: "%.\(max(0, digits - 1))e", value) }
        let decimals = max(0, digits - 1 - Int(log10(magnitude).rounded(.down)))
        return String(format: "%.\(decimals)f", value)
    }

    /// A count with thousands separators: 1,234,567.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return value < 0 ? "-" + result : result
    }

    /// A count kept as a `Double` (summed over a window): `1,234` when it is whole, as it is for
    /// one-hot targets, otherwise with `digits` significant digits.
    static func tally(_ value: Double, digits: Int = 5) -> String {
        guard value.isFinite, value == value.rounded(), value.magnitude < 1e15 else {
            return Self.value(value, digits: digits)
        }
        return count(Int(value))
    }

    /// A Unix time as `2025-11-29 05:41:10 UTC`.
    static func time(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e11 else { return "unknown" }
        var whole = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d UTC", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// How long ago: `3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`.
    static func age(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        let value = max(0, seconds)
        if value < 120 { return "\(Int(value)) s ago" }
        if value < 7200 { return "\(Int(value / 60)) min ago" }
        if value < 172_800 { return "\(Int(value / 3600)) h ago" }
        return "\(Int(value / 86400)) d ago"
    }
}

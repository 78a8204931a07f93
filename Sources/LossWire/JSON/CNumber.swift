#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Correctly rounded decimal-to-double conversion of JSON number text, without building a String.
enum CNumber {
    /// Converts `text`, already checked against the JSON number grammar; `nil` if it is not a number.
    ///
    /// Uses `strtod` on a stack copy. Should the process's C locale use another decimal separator,
    /// `strtod` stops early at the `.`; that is detected and the locale-independent standard
    /// library conversion is used instead.
    static func parseDouble(_ text: UnsafeRawBufferPointer) -> Double? {
        let converted: Double? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer in
            guard let base = buffer.baseAddress else { return nil }
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: text)
            buffer[text.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(base, &end)
            return end == base + text.count ? value : nil
        }
        return converted ?? Double(String(decoding: text, as: UTF8.self))
    }
}

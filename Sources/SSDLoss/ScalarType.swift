/// The element type of a floating-point tensor on the wire: always little-endian.
public enum ScalarType: String, Sendable, Hashable, CaseIterable, Codable {
    /// IEEE 754 binary32.
    case float32
    /// IEEE 754 binary16.
    case float16
    /// The upper 16 bits of an IEEE 754 binary32 (brain floating point).
    case bfloat16
    /// IEEE 754 binary64.
    case float64

    /// The number of bytes one element occupies.
    public var byteWidth: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .float64: 8
        }
    }
}

/// Reads element `index` of a little-endian tensor as a `Double`, for one wire scalar type.
///
/// The kernel is generic over this protocol so that the optimizer emits one specialized inner
/// loop per ``ScalarType``; every reader is a caseless enum used only through its static members.
protocol ScalarReader {
    /// The number of bytes one element occupies.
    static var byteWidth: Int { get }
    /// The element at `index` (counted in elements, not bytes) of the tensor starting at `base`.
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double
}

/// IEEE 754 binary32, little-endian.
enum Float32Reader: ScalarReader {
    static var byteWidth: Int { 4 }

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let bits = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index &* 4, as: UInt32.self))
        return Double(Float(bitPattern: bits))
    }
}

/// IEEE 754 binary16, little-endian.
enum Float16Reader: ScalarReader {
    static var byteWidth: Int { 2 }

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
        return Double(Float16(bitPattern: bits))
    }
}

/// bfloat16: the upper 16 bits of a binary32, little-endian.
enum BFloat16Reader: ScalarReader {
    static var byteWidth: Int { 2 }

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
        return Double(Float(bitPattern: UInt32(bits) &<< 16))
    }
}

/// IEEE 754 binary64, little-endian.
enum Float64Reader: ScalarReader {
    static var byteWidth: Int { 8 }

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int) -> Double {
        Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &* 8, as: UInt64.self)))
    }
}

/// A cheap, branch-free test for NaN and ±Inf that can be OR-accumulated over many values.
///
/// The result has its top bit set exactly when `value`'s exponent is all ones (NaN or ±Inf):
/// adding one exponent step to an all-ones exponent carries into the sign position.
@inline(__always)
func nonfiniteMark(_ value: Double) -> UInt64 {
    (value.bitPattern & 0x7FF0_0000_0000_0000) &+ 0x0010_0000_0000_0000
}

/// Whether an OR of ``nonfiniteMark(_:)`` results saw a NaN or an infinity.
@inline(__always)
func sawNonfinite(_ marks: UInt64) -> Bool {
    marks & 0x8000_0000_0000_0000 != 0
}

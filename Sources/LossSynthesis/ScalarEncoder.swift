import SSDLoss

/// Writes Doubles into a byte buffer as little-endian scalars of a wire type.
struct ScalarEncoder {
    let type: ScalarType

    /// Stores `value` at element `index` of `buffer`.
    @inline(__always)
    func store(_ value: Double, at index: Int, in buffer: UnsafeMutableRawBufferPointer) {
        switch type {
        case .float32:
            buffer.storeBytes(of: Float(value).bitPattern.littleEndian, toByteOffset: index &* 4, as: UInt32.self)
        case .float64:
            buffer.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index &* 8, as: UInt64.self)
        case .float16:
            buffer.storeBytes(
                of: Float16(Float(value)).bitPattern.littleEndian, toByteOffset: index &* 2, as: UInt16.self)
        case .bfloat16:
            buffer.storeBytes(
                of: Self.bfloat16Bits(Float(value)).littleEndian, toByteOffset: index &* 2, as: UInt16.self)
        }
    }

    /// Rounds a Float to the nearest bfloat16 (ties to even) and returns its 16 bits.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}

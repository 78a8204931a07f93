/// Loads consecutive wire scalars as bit patterns or float32 lanes, for one wire scalar type.
///
/// The vectorized passes are generic over this protocol so that each scalar type gets its own
/// specialized loop. Every format converts exactly: float16 and bfloat16 values are all
/// representable as float32, so the float32 lanes hold the very values the wire carries (NaN
/// and ±Inf included, which the passes must see to report them).
///
/// Only for little-endian hosts: the lanes are loaded as they lie in memory.
protocol LaneFormat {
    /// The scalar reader of the same type, for the per-box fallback and the non-finite counts.
    associatedtype Reader: ScalarReader
    /// Eight elements' bit patterns, in unsigned lanes of the element's width.
    ///
    /// Two tests need no conversion to float32 and run on these: whether a box's targets are a
    /// one-hot negative (a comparison of bits), and whether a value is NaN or ±Inf (its
    /// exponent bits all ones). For 16-bit formats that halves the vector work of the pass.
    associatedtype Raw: SIMD where Raw.Scalar: FixedWidthInteger & UnsignedInteger
    /// The bit pattern of 1.0.
    static var oneBits: Raw.Scalar { get }
    /// The exponent bits of an element.
    static var exponentBits: Raw.Scalar { get }
    /// The lowest exponent bit: `(bits & exponentBits) &+ exponentStep` sets the top bit of
    /// the lane exactly when the exponent is all ones (NaN, ±Inf).
    static var exponentStep: Raw.Scalar { get }
    /// The sign bit.
    static var signBit: Raw.Scalar { get }
    /// Elements `element ..< element + 8` of the tensor at `base`, as bit patterns.
    static func raw(_ base: UnsafeRawPointer, _ element: Int) -> Raw
    /// The float32 values of eight bit patterns.
    static func float(_ raw: Raw) -> SIMD8<Float>
    /// Whether every lane is zero.
    static func isZero(_ raw: Raw) -> Bool
    /// `-log(max(p, 1e-15))` by bit pattern, for 16-bit formats (see ``NegativeLogTable``).
    static var negativeLogTable: UnsafePointer<Double>? { get }
    /// The bit pattern of element `element`, as a table index (16-bit formats).
    static func pattern(_ base: UnsafeRawPointer, _ element: Int) -> Int
    /// The exponent test of elements `element ..< element + 4`, with its result in bit 31 of
    /// each lane whatever the element's width (four lanes, for a keras box's offsets).
    static func quadMarks(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<UInt32>
    /// Elements `element ..< element + 4` of the tensor at `base`, as float32 lanes.
    static func quad(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<Float>
    /// Element `element` of the tensor at `base`.
    static func scalar(_ base: UnsafeRawPointer, _ element: Int) -> Float
}

/// IEEE 754 binary32: the lanes are the bytes.
enum Float32Lanes: LaneFormat {
    typealias Reader = Float32Reader
    typealias Raw = SIMD8<UInt32>
    static var oneBits: UInt32 { 0x3F80_0000 }
    static var exponentBits: UInt32 { 0x7F80_0000 }
    static var exponentStep: UInt32 { 0x0080_0000 }
    static var signBit: UInt32 { 0x8000_0000 }

    @inline(__always)
    static func raw(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<UInt32> {
        base.loadUnaligned(fromByteOffset: element &* 4, as: SIMD8<UInt32>.self)
    }

    @inline(__always)
    static func float(_ raw: SIMD8<UInt32>) -> SIMD8<Float> { floatLanes(raw) }

    @inline(__always)
    static func isZero(_ raw: SIMD8<UInt32>) -> Bool { orOfLanes(raw) == 0 }

    static var negativeLogTable: UnsafePointer<Double>? { nil }

    @inline(__always)
    static func pattern(_ base: UnsafeRawPointer, _ element: Int) -> Int {
        Int(base.loadUnaligned(fromByteOffset: element &* 4, as: UInt32.self))
    }

    @inline(__always)
    static func quadMarks(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<UInt32> {
        (base.loadUnaligned(fromByteOffset: element &* 4, as: SIMD4<UInt32>.self) & exponentBits) &+ exponentStep
    }

    @inline(__always)
    static func quad(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<Float> {
        base.loadUnaligned(fromByteOffset: element &* 4, as: SIMD4<Float>.self)
    }

    @inline(__always)
    static func scalar(_ base: UnsafeRawPointer, _ element: Int) -> Float {
        base.loadUnaligned(fromByteOffset: element &* 4, as: Float.self)
    }
}

/// IEEE 754 binary16, widened in integer lanes (see ``halfToFloat(_:)-(SIMD8<UInt32>)``).
enum Float16Lanes: LaneFormat {
    typealias Reader = Float16Reader
    typealias Raw = SIMD8<UInt16>
    static var negativeLogTable: UnsafePointer<Double>? { NegativeLogTable.float16 }
    static var oneBits: UInt16 { 0x3C00 }
    static var exponentBits: UInt16 { 0x7C00 }
    static var exponentStep: UInt16 { 0x0400 }
    static var signBit: UInt16 { 0x8000 }

    @inline(__always)
    static func raw(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<UInt16> {
        base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD8<UInt16>.self)
    }

    @inline(__always)
    static func float(_ raw: SIMD8<UInt16>) -> SIMD8<Float> { halfToFloat(SIMD8<UInt32>(truncatingIfNeeded: raw)) }

    @inline(__always)
    static func isZero(_ raw: SIMD8<UInt16>) -> Bool { orOfLanes(raw) == 0 }

    @inline(__always)
    static func pattern(_ base: UnsafeRawPointer, _ element: Int) -> Int {
        Int(base.loadUnaligned(fromByteOffset: element &* 2, as: UInt16.self))
    }

    @inline(__always)
    static func quadMarks(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<UInt32> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD4<UInt16>.self)
        return SIMD4<UInt32>(truncatingIfNeeded: (raw & exponentBits) &+ exponentStep) &<< 16
    }

    @inline(__always)
    static func quad(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<Float> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD4<UInt16>.self)
        let wide = SIMD4<UInt32>(truncatingIfNeeded: raw)
        return halfToFloat(SIMD8(lowHalf: wide, highHalf: wide)).lowHalf
    }

    @inline(__always)
    static func scalar(_ base: UnsafeRawPointer, _ element: Int) -> Float {
        halfToFloat(UInt32(base.loadUnaligned(fromByteOffset: element &* 2, as: UInt16.self)))
    }
}

/// bfloat16: the upper half of a binary32, so widening is a shift.
enum BFloat16Lanes: LaneFormat {
    typealias Reader = BFloat16Reader
    typealias Raw = SIMD8<UInt16>
    static var negativeLogTable: UnsafePointer<Double>? { NegativeLogTable.bfloat16 }
    static var oneBits: UInt16 { 0x3F80 }
    static var exponentBits: UInt16 { 0x7F80 }
    static var exponentStep: UInt16 { 0x0080 }
    static var signBit: UInt16 { 0x8000 }

    @inline(__always)
    static func raw(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<UInt16> {
        base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD8<UInt16>.self)
    }

    @inline(__always)
    static func float(_ raw: SIMD8<UInt16>) -> SIMD8<Float> {
        floatLanes(SIMD8<UInt32>(truncatingIfNeeded: raw) &<< 16)
    }

    @inline(__always)
    static func isZero(_ raw: SIMD8<UInt16>) -> Bool { orOfLanes(raw) == 0 }

    @inline(__always)
    static func pattern(_ base: UnsafeRawPointer, _ element: Int) -> Int {
        Int(base.loadUnaligned(fromByteOffset: element &* 2, as: UInt16.self))
    }

    @inline(__always)
    static func quadMarks(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<UInt32> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD4<UInt16>.self)
        return SIMD4<UInt32>(truncatingIfNeeded: (raw & exponentBits) &+ exponentStep) &<< 16
    }

    @inline(__always)
    static func quad(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<Float> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD4<UInt16>.self)
        return unsafeBitCast(SIMD4<UInt32>(truncatingIfNeeded: raw) &<< 16, to: SIMD4<Float>.self)
    }

    @inline(__always)
    static func scalar(_ base: UnsafeRawPointer, _ element: Int) -> Float {
        Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: element &* 2, as: UInt16.self)) &<< 16)
    }
}

/// Loads eight (or four) consecutive wire scalars as float32 lanes, for one wire scalar type.
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
    /// Elements `element ..< element + 8` of the tensor at `base`, as float32 lanes.
    static func lanes(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<Float>
    /// Elements `element ..< element + 4` of the tensor at `base`, as float32 lanes.
    static func quad(_ base: UnsafeRawPointer, _ element: Int) -> SIMD4<Float>
    /// Element `element` of the tensor at `base`.
    static func scalar(_ base: UnsafeRawPointer, _ element: Int) -> Float
}

/// IEEE 754 binary32: the lanes are the bytes.
enum Float32Lanes: LaneFormat {
    typealias Reader = Float32Reader

    @inline(__always)
    static func lanes(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: element &* 4, as: SIMD8<Float>.self)
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

    @inline(__always)
    static func lanes(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<Float> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD8<UInt16>.self)
        return halfToFloat(SIMD8<UInt32>(truncatingIfNeeded: raw))
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

    @inline(__always)
    static func lanes(_ base: UnsafeRawPointer, _ element: Int) -> SIMD8<Float> {
        let raw = base.loadUnaligned(fromByteOffset: element &* 2, as: SIMD8<UInt16>.self)
        return floatLanes(SIMD8<UInt32>(truncatingIfNeeded: raw) &<< 16)
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

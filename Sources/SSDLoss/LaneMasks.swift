/// Per-chunk lane masks for reading one box's C class entries eight at a time.
///
/// The last chunk of a box may run past its class entries (into the offsets, the ignored
/// entries, or the next box's scores in the compact layout): the masks keep those lanes out.
struct LaneMasks {
    /// All ones in lanes that hold a class entry.
    var classBits: SIMD8<UInt32>
    /// The bits of −Inf in lanes that hold no class entry, so they never win a maximum.
    var fill: SIMD8<UInt32>
    /// ``classBits`` as a lane mask.
    var classLanes: SIMDMask<SIMD8<Int32>>
    /// ``classBits`` without class 0: the lanes of a negative's odds `sum_{k≥1} exp(p[k] - p[0])`.
    var otherClassBits: SIMD8<UInt32>

    init(chunk: Int, classes count: Int) {
        let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(chunk * 8)
        let none = SIMD8<UInt32>()
        classBits = none.replacing(with: .max, where: lane .< Int32(count))
        fill = none.replacing(with: Float.infinity.bitPattern | 0x8000_0000, where: lane .>= Int32(count))
        classLanes = lane .< Int32(count)
        otherClassBits = classBits
        if chunk == 0 { otherClassBits[0] = 0 }
    }

    /// Masks for the `(classes + 7) / 8` chunks of a box.
    static func allocate(classes: Int) -> UnsafeMutableBufferPointer<LaneMasks> {
        let chunks = (classes + 7) / 8
        let masks = UnsafeMutableBufferPointer<LaneMasks>.allocate(capacity: chunks)
        for chunk in 0..<chunks {
            masks.initializeElement(at: chunk, to: LaneMasks(chunk: chunk, classes: classes))
        }
        return masks
    }
}

/// Per-chunk masks on bit patterns (``LaneFormat/Raw``) for the tests that need no float32.
struct RawMasks<F: LaneFormat> {
    /// All ones in lanes that hold a class entry.
    var classBits: F.Raw
    /// The bits of 1.0 in the lane of class 0, zero elsewhere: a one-hot negative's targets.
    var negativeTarget: F.Raw
    /// The exponent bits in lanes that hold a class entry, zero elsewhere.
    var exponent: F.Raw

    init(chunk: Int, classes count: Int) {
        classBits = F.Raw()
        negativeTarget = F.Raw()
        exponent = F.Raw()
        for lane in 0..<8 where chunk * 8 + lane < count {
            classBits[lane] = ~0
            exponent[lane] = F.exponentBits
        }
        if chunk == 0 { negativeTarget[0] = F.oneBits }
    }

    /// Masks for the `(classes + 7) / 8` chunks of a box.
    static func allocate(classes: Int) -> UnsafeMutableBufferPointer<RawMasks> {
        let chunks = (classes + 7) / 8
        let masks = UnsafeMutableBufferPointer<RawMasks>.allocate(capacity: chunks)
        for chunk in 0..<chunks {
            masks.initializeElement(at: chunk, to: RawMasks(chunk: chunk, classes: classes))
        }
        return masks
    }
}

/// Whether any lane of an OR of `(bits & exponentBits) &+ exponentStep` saw an all-ones exponent.
@inline(__always)
func sawNonfinite<F: LaneFormat>(_ format: F.Type, _ marks: F.Raw) -> Bool {
    var all: F.Raw.Scalar = 0
    for lane in marks.indices { all |= marks[lane] }
    return all & F.signBit != 0
}

/// The cost of reading bytes once: the floor the kernel's speed is measured against.
///
/// `lossd bench` times ``streamSum(_:)`` and ``MultiBoxLoss`` over the same buffers in the same
/// run; the kernel's target is a small multiple of this floor (SPEC §7).
public enum MemoryFloor {
    /// A vectorized sum of every float32 lane of `buffers`, read once, front to back.
    ///
    /// Buffers are read as little-endian float32 whatever they hold; trailing bytes that do not
    /// fill a lane are skipped. The result is returned so the work cannot be optimized away; its
    /// value has no meaning beyond that.
    public static func streamSum(_ buffers: [UnsafeRawBufferPointer]) -> Double {
        var total = 0.0
        for buffer in buffers {
            total += sum(buffer)
        }
        return total
    }

    private static func sum(_ buffer: UnsafeRawBufferPointer) -> Double {
        guard let base = buffer.baseAddress else { return 0 }
        let lanes = buffer.count / 4
        let block = 64
        let blocks = lanes / block
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var offset = 0
        for _ in 0..<blocks {
            a0 += base.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            a1 += base.loadUnaligned(fromByteOffset: offset + 64, as: SIMD16<Float>.self)
            a2 += base.loadUnaligned(fromByteOffset: offset + 128, as: SIMD16<Float>.self)
            a3 += base.loadUnaligned(fromByteOffset: offset + 192, as: SIMD16<Float>.self)
            offset += block * 4
        }
        var total = Double(((a0 + a1) + (a2 + a3)).sum())
        for lane in (blocks * block)..<lanes {
            total += Double(base.loadUnaligned(fromByteOffset: lane * 4, as: Float.self))
        }
        return total
    }
}

import CLossKernels

/// The cost of reading bytes once: the floor the kernel's speed is measured against.
///
/// `lossd bench` times ``streamSum(_:path:)`` and ``MultiBoxLoss`` over the same buffers in the
/// same run; the kernel's target is a small multiple of this floor (SPEC §7). The sum runs on the
/// same ``KernelPath`` as the kernel it is compared with: on AVX2 it reads 32 bytes per
/// instruction, which on some machines reads cached bytes faster than the baseline can.
public enum MemoryFloor {
    /// A vectorized sum of every float32 lane of `buffers`, read once, front to back.
    ///
    /// Buffers are read as little-endian float32 whatever they hold; trailing bytes that do not
    /// fill a lane are skipped. The result is returned so the work cannot be optimized away; its
    /// value has no meaning beyond that.
    public static func streamSum(_ buffers: [UnsafeRawBufferPointer], path: KernelPath = .active) -> Double {
        var total = 0.0
        for buffer in buffers {
            guard let base = buffer.baseAddress else { continue }
            total += lk_stream_sum(path.kernel, base, buffer.count)
        }
        return total
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The streaming pass for the most common batch, keras-layout float32, eight lanes at a time.
///
/// The results of ``StreamingPass/keras(_:_:yTrue:yPred:shape:workspace:)`` (the tests hold the
/// two to exact counts, and values to 1e-7 with logits, whose `exp` here is float32). The
/// non-finite check and the search for non-zero targets are vector operations; only non-zero
/// targets reach scalar code (a `log`, and `pos`). Logits get a vector float32 `exp` whose terms
/// are summed apart from the exact 1s of the largest logit, so a log-sum-exp of 1 + tiny stays
/// distinct from 1 as in a float64 reference, and `n_nonzero` agrees with it.
enum Float32KerasPass {
    static func run<S: ClassScoring>(
        _ scoring: S.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer,
        shape: BatchShape, workspace: LossWorkspace
    ) -> BatchSums {
        let classes = shape.classes
        let rowBytes = shape.kerasWidth * 4
        let chunks = (classes + 4 + 7) / 8
        let masks = UnsafeMutableBufferPointer<ChunkMasks>.allocate(capacity: chunks)
        defer { masks.deallocate() }
        for chunk in 0..<chunks {
            masks.initializeElement(at: chunk, to: ChunkMasks(chunk: chunk, classes: classes))
        }
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var sums = BatchSums(images: shape.batch)
        var count = 0
        var marks = SIMD8<UInt32>()
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            for n in 0..<shape.boxes {
                let row = (b &* shape.boxes &+ n) &* rowBytes
                let t = yTrue + row
                let p = yPred + row
                let (cl, pos) = classTerms(
                    S.self, t: t, p: p, classes: classes, chunks: chunks, masks: masks, marks: &marks)
                let neg = Double(t.loadUnaligned(as: Float.self))
                if pos != 0 {
                    var ll = 0.0
                    for j in 0..<4 {
                        let offset = (classes &+ j) &* 4
                        let d = Double(t.loadUnaligned(fromByteOffset: offset, as: Float.self))
                            - Double(p.loadUnaligned(fromByteOffset: offset, as: Float.self))
                        let a = abs(d)
                        ll += a < 1 ? 0.5 * d * d : a - 0.5
                    }
                    positives += pos
                    classPositive += cl * pos
                    localization += ll * pos
                }
                if neg != 0 {
                    let nl = cl * neg
                    if nl != 0 {
                        negativeLosses[count] = nl
                        classLosses[count] = cl
                        count &+= 1
                    }
                }
            }
            sums.positives[b] = positives
            sums.classPositive[b] = classPositive
            sums.localization[b] = localization
            sums.segmentEnds[b] = count
        }
        sums.sawNonfinite = (marks & 0x8000_0000) != SIMD8<UInt32>()
        return sums
    }

    /// `cl` and `pos` of one box, with the non-finite marks of its `C + 4` read entries.
    ///
    /// `pos = max(t[1..C-1])` is taken over the non-zero targets only (the ones the loss visits
    /// anyway) and the zeros, which are there unless every foreground target is non-zero.
    @inline(__always)
    private static func classTerms<S: ClassScoring>(
        _ scoring: S.Type, t: UnsafeRawPointer, p: UnsafeRawPointer, classes: Int, chunks: Int,
        masks: UnsafeMutableBufferPointer<ChunkMasks>, marks: inout SIMD8<UInt32>
    ) -> (cl: Double, pos: Double) {
        let exponentBits = SIMD8<UInt32>(repeating: 0x7F80_0000)
        let exponentStep = SIMD8<UInt32>(repeating: 0x0080_0000)
        let negativeInfinity = bitLanes(SIMD8<Float>(repeating: -.infinity))
        var foreground = Foreground()
        var cl = 0.0
        var top = floatLanes(negativeInfinity)
        var firstGroupTargets: UInt32 = 0
        var hasTarget = false
        // Chunks go in groups of four, whose non-zero target lanes fit one 32-bit word.
        var group = 0
        while group < chunks {
            var weights = SIMD8<Int32>()
            for chunk in group..<min(group &+ 4, chunks) {
                let mask = masks[chunk]
                let tBits = t.loadUnaligned(fromByteOffset: chunk &* 32, as: SIMD8<UInt32>.self)
                let pBits = p.loadUnaligned(fromByteOffset: chunk &* 32, as: SIMD8<UInt32>.self)
                marks |= (((tBits & exponentBits) &+ exponentStep) | ((pBits & exponentBits) &+ exponentStep))
                    & mask.read
                weights |= SIMD8<Int32>().replacing(
                    with: mask.laneWeights, where: floatLanes(tBits & mask.classes) .!= 0)
                if S.usesLogits {
                    top = lanewiseMax(top, floatLanes(pBits & mask.classes | ~mask.classes & negativeInfinity))
                }
            }
            var nonzero = orOfLanes(weights)
            if S.usesLogits {
                if group == 0 { firstGroupTargets = nonzero }
                hasTarget = hasTarget || nonzero != 0
            } else {
                while nonzero != 0 {
                    let k = group &* 8 &+ nonzero.trailingZeroBitCount
                    nonzero &= nonzero &- 1
                    let target = t.loadUnaligned(fromByteOffset: k &* 4, as: Float.self)
                    let prediction = Double(p.loadUnaligned(fromByteOffset: k &* 4, as: Float.self))
                    cl -= Double(target) * log(max(prediction, ProbabilityScoring.floor))
                    foreground.visit(k, target)
                }
            }
            group &+= 4
        }
        if S.usesLogits {
            guard hasTarget else { return (0, 0) }
            cl = logitClassLoss(
                t: t, p: p, chunks: (classes &+ 7) / 8, masks: masks, top: horizontalMax(top),
                firstGroupTargets: firstGroupTargets, foreground: &foreground)
        }
        return (cl, foreground.maximum(classes: classes))
    }

    /// `max(t[1..C-1])` from the non-zero targets alone.
    struct Foreground {
        var largest: Float = -.infinity
        var nonzero = 0

        @inline(__always)
        mutating func visit(_ k: Int, _ target: Float) {
            if k > 0 {
                largest = max(largest, target)
                nonzero &+= 1
            }
        }

        /// The maximum, counting the zeros the visits skipped.
        @inline(__always)
        func maximum(classes: Int) -> Double {
            Double(nonzero < classes &- 1 ? max(largest, 0) : largest)
        }
    }

    /// `-sum_k t[k] * ((p[k] - top) - log(sum_j exp(p[j] - top)))` over the non-zero targets.
    ///
    /// `chunks` covers the class entries only. The lanes equal to `top` contribute exactly 1 each;
    /// the rest are summed apart so that a sum of 1 + tiny survives the float32 lanes.
    @inline(__always)
    private static func logitClassLoss(
        t: UnsafeRawPointer, p: UnsafeRawPointer, chunks: Int,
        masks: UnsafeMutableBufferPointer<ChunkMasks>, top: Float, firstGroupTargets: UInt32,
        foreground: inout Foreground
    ) -> Double {
        var rest = SIMD8<Float>()
        var tops = SIMD8<Float>()
        for chunk in 0..<chunks {
            let isClass = masks[chunk].classLanes
            let prediction = p.loadUnaligned(fromByteOffset: chunk &* 32, as: SIMD8<Float>.self)
            let atTop = isClass .& (prediction .== top)
            tops += SIMD8<Float>().replacing(with: 1, where: atTop)
            let e = vectorExp(prediction - top)
            rest += e.replacing(with: 0, where: .!isClass .| atTop)
        }
        let lse = log(Double(horizontalSum(tops)) + Double(horizontalSum(rest)))
        var cl = 0.0
        var group = 0
        while group < chunks {
            // The first group's targets are known; the rest (C > 28) are found again.
            var nonzero = firstGroupTargets
            if group > 0 {
                var weights = SIMD8<Int32>()
                for chunk in group..<min(group &+ 4, chunks) {
                    let target = floatLanes(
                        t.loadUnaligned(fromByteOffset: chunk &* 32, as: SIMD8<UInt32>.self) & masks[chunk].classes)
                    weights |= SIMD8<Int32>().replacing(with: masks[chunk].laneWeights, where: target .!= 0)
                }
                nonzero = orOfLanes(weights)
            }
            while nonzero != 0 {
                let k = group &* 8 &+ nonzero.trailingZeroBitCount
                nonzero &= nonzero &- 1
                let target = t.loadUnaligned(fromByteOffset: k &* 4, as: Float.self)
                let prediction = Double(p.loadUnaligned(fromByteOffset: k &* 4, as: Float.self))
                cl -= Double(target) * ((prediction - Double(top)) - lse)
                foreground.visit(k, target)
            }
            group &+= 4
        }
        return cl
    }
}

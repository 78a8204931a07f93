/// The streaming pass for compact-layout float32, float16 and bfloat16 batches, eight lanes at a time.
///
/// A compact box is one-hot by construction, so every box takes the vector path of
/// ``KerasLanePass``: the scores are checked for non-finite values eight lanes at a time (and,
/// for logits, reduced to their maximum and sum of exponentials), a negative's logarithm is left
/// to ``DeferredLogs``, and a positive's is taken at once (they are rare). The offsets, two
/// tensors of their own, are checked in one sweep each after the pass; a positive's are read
/// for its localization loss.
enum CompactLanePass {
    static func run<F: LaneFormat, S: ClassScoring>(
        _ format: F.Type, _ scoring: S.Type,
        labels: UnsafeRawPointer, gtOffsets: UnsafeRawPointer,
        scores: UnsafeRawPointer, predOffsets: UnsafeRawPointer,
        shape: BatchShape, workspace: LossWorkspace
    ) throws(LossError) -> BatchSums {
        let classes = shape.classes
        let masks = LaneMasks.allocate(classes: classes)
        defer { masks.deallocate() }
        let rawMasks = RawMasks<F>.allocate(classes: classes)
        defer { rawMasks.deallocate() }
        let step = F.Raw(repeating: F.exponentStep)
        let staged = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: masks.count)
        defer { staged.deallocate() }
        // The chunks of the last boxes would read past the end of `scores`: those boxes are
        // copied, zero-padded, into `tail` first. Boxes before `directBoxes` read in place.
        let span = masks.count &* 8
        let total = shape.boxCount &* classes
        let directBoxes = total >= span ? (total &- span) / classes &+ 1 : 0
        let elementBytes = F.Reader.byteWidth
        let tail = UnsafeMutableRawPointer.allocate(byteCount: span &* elementBytes, alignment: 16)
        defer { tail.deallocate() }
        var logs = DeferredLogs(workspace: workspace, negate: !S.usesLogits)
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var sums = BatchSums(images: shape.batch)
        var count = 0
        var rawMarks = F.Raw()
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            for n in 0..<shape.boxes {
                let box = b &* shape.boxes &+ n
                let label = Int32(littleEndian: labels.loadUnaligned(fromByteOffset: box &* 4, as: Int32.self))
                guard label >= -1, Int(label) < classes else {
                    throw .labelOutOfRange(box: box, label: label, classes: classes)
                }
                var base = scores
                var row = box &* classes
                if box >= directBoxes {
                    tail.initializeMemory(as: UInt8.self, repeating: 0, count: span &* elementBytes)
                    tail.copyMemory(from: scores + row &* elementBytes, byteCount: classes &* elementBytes)
                    base = UnsafeRawPointer(tail)
                    row = 0
                }
                var top = SIMD8<Float>(repeating: -.infinity)
                for chunk in 0..<rawMasks.count {
                    let prediction = F.raw(base, row &+ chunk &* 8)
                    rawMarks |= (prediction & rawMasks[chunk].exponent) &+ step
                    if S.usesLogits {
                        let values = F.float(prediction)
                        staged[chunk] = values
                        top = lanewiseMax(top, floatLanes(bitLanes(values) & masks[chunk].classBits | masks[chunk].fill))
                    }
                }
                guard label >= 0 else { continue }
                if !S.usesLogits, let table = F.negativeLogTable {
                    let cl = table[F.pattern(base, row &+ Int(label))]
                    if label == 0 {
                        if cl != 0 {
                            negativeLosses[count] = cl
                            classLosses[count] = cl
                            count &+= 1
                        }
                        continue
                    }
                    positives += 1
                    classPositive += cl
                    let truth = F.quad(gtOffsets, box &* 4)
                    let predicted = F.quad(predOffsets, box &* 4)
                    localization += smoothL1(SIMD4<Double>(truth) - SIMD4<Double>(predicted))
                    continue
                }
                let score = F.scalar(base, row &+ Int(label))
                // `cl = addend ± log(argument)`, as DeferredLogs takes it.
                var argument: Double
                var addend = 0.0
                if S.usesLogits {
                    let largest = horizontalMax(top)
                    argument = SoftmaxLanes.sumOfExponentials(staged, masks: masks, top: largest)
                    addend = Double(largest) - Double(score)
                } else {
                    argument = max(Double(score), ProbabilityScoring.floor)
                }
                if label == 0 {
                    if addend != 0 || argument != 1 {
                        if S.usesLogits {
                            logs.append(argument, plus: addend, slot: count)
                        } else {
                            logs.append(argument, slot: count)
                        }
                        count &+= 1
                    }
                    continue
                }
                let logarithm = vectorLog(SIMD8(repeating: argument))[0]
                positives += 1
                classPositive += S.usesLogits ? addend + logarithm : addend - logarithm
                let truth = F.quad(gtOffsets, box &* 4)
                let predicted = F.quad(predOffsets, box &* 4)
                localization += smoothL1(SIMD4<Double>(truth) - SIMD4<Double>(predicted))
            }
            sums.positives[b] = positives
            sums.classPositive[b] = classPositive
            sums.localization[b] = localization
            sums.segmentEnds[b] = count
        }
        logs.flush()
        sums.sawNonfinite = SSDLoss.sawNonfinite(F.self, rawMarks)
            || hasNonfinite(F.self, in: gtOffsets, count: shape.boxCount &* 4)
            || hasNonfinite(F.self, in: predOffsets, count: shape.boxCount &* 4)
        return sums
    }

    /// Whether any of the first `count` elements at `base` is NaN or ±Inf, eight lanes at a time.
    ///
    /// The offsets are their own contiguous tensors in this layout, so they are checked in one
    /// sweep each rather than four lanes per box.
    private static func hasNonfinite<F: LaneFormat>(_ format: F.Type, in base: UnsafeRawPointer, count: Int) -> Bool {
        let exponent = F.Raw(repeating: F.exponentBits)
        let step = F.Raw(repeating: F.exponentStep)
        var marks = F.Raw()
        var element = 0
        while element &+ 8 <= count {
            marks |= (F.raw(base, element) & exponent) &+ step
            element &+= 8
        }
        var last: UInt64 = 0
        while element < count {
            last |= nonfiniteMark(F.Reader.load(base, element))
            element &+= 1
        }
        return SSDLoss.sawNonfinite(F.self, marks) || SSDLoss.sawNonfinite(last)
    }

    /// `sum_j smoothL1(d[j])`, in float64 like ``localizationLoss(_:truth:truthRow:prediction:predictionRow:marks:)``.
    @inline(__always)
    private static func smoothL1(_ d: SIMD4<Double>) -> Double {
        var ll = 0.0
        for j in 0..<4 {
            let a = abs(d[j])
            ll += a < 1 ? 0.5 * d[j] * d[j] : a - 0.5
        }
        return ll
    }
}

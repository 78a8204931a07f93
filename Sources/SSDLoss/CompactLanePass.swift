/// The streaming pass for compact-layout float32, float16 and bfloat16 batches, eight lanes at a time.
///
/// A compact box is one-hot by construction, so every box takes the vector path of
/// ``KerasLanePass``. With probabilities a box needs one score: blocks of 1024 boxes have their
/// scores checked for non-finite values as one contiguous run (no per-box masks), then each box
/// reads its label's score, whose loss comes from ``NegativeLogTable`` (16-bit formats) or
/// ``DeferredLogs``. With logits a negative's loss is estimated (``LogitEstimate``) and
/// computed later only if mining can pick it (``LogitRefinement``); a positive's scores are
/// reduced eight lanes at a time to their maximum and sum of exponentials. The offsets, two
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
        // Read once: each access to the lazily built table would check that it is built.
        let negativeLogTable = S.usesLogits ? nil : F.negativeLogTable
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var negatives = LogitNegatives(workspace: workspace)
        var sums = BatchSums(images: shape.batch)
        var count = 0
        // Starts at 1, not 0 (the test reads only sign bits): the optimizer merged a zero vector
        // here with the zero mask of a vector shuffle, turned the mask into a loop variable and
        // then crashed in IR generation (Swift 6.3.1).
        var rawMarks = F.Raw(repeating: 1)
        var scalarMarks: UInt64 = 0
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            var blockStart = 0
            while blockStart < shape.boxes {
                // Blocks of boxes small enough to stay in cache between the check and the loss.
                let blockEnd = min(blockStart &+ 1024, shape.boxes)
                if !S.usesLogits {
                    // Probabilities need one score per box, so the scores are checked for non-finite
                    // values as the contiguous tensor they are, not box by box with masks.
                    let firstBox = b &* shape.boxes
                    mark(
                        F.self, scores, from: (firstBox &+ blockStart) &* classes,
                        to: (firstBox &+ blockEnd) &* classes,
                        into: &rawMarks, scalar: &scalarMarks)
                }
                for n in blockStart..<blockEnd {
                    let box = b &* shape.boxes &+ n
                    let label = Int32(littleEndian: labels.loadUnaligned(fromByteOffset: box &* 4, as: Int32.self))
                    guard label >= -1, Int(label) < classes else {
                        throw .labelOutOfRange(box: box, label: label, classes: classes)
                    }
                    var base = scores
                    var row = box &* classes
                    if S.usesLogits, box >= directBoxes {
                        tail.initializeMemory(as: UInt8.self, repeating: 0, count: span &* elementBytes)
                        tail.copyMemory(from: scores + row &* elementBytes, byteCount: classes &* elementBytes)
                        base = UnsafeRawPointer(tail)
                        row = 0
                    }
                    if S.usesLogits, label == 0 {
                        // A negative: its loss estimated, computed later if it can be mined.
                        let (verdict, estimate, marks) = LogitEstimate.odds(
                            format, base, row: row, rawMasks: rawMasks, masks: masks)
                        rawMarks |= marks
                        negatives.record(
                            verdict, estimate: estimate, box: box, format, base, row: row, masks: masks,
                            staged: staged, logs: &logs, count: &count)
                        continue
                    }
                    var top = SIMD8<Float>(repeating: -.infinity)
                    if S.usesLogits {
                        for chunk in 0..<rawMasks.count {
                            let prediction = F.raw(base, row &+ chunk &* 8)
                            rawMarks |= (prediction & rawMasks[chunk].exponent) &+ step
                            let values = F.float(prediction)
                            staged[chunk] = values
                            top = lanewiseMax(
                                top, floatLanes(bitLanes(values) & masks[chunk].classBits | masks[chunk].fill))
                        }
                    }
                    guard label >= 0 else { continue }
                    if let table = negativeLogTable {
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
                blockStart = blockEnd
            }
            sums.positives[b] = positives
            sums.classPositive[b] = classPositive
            sums.localization[b] = localization
            sums.segmentEnds[b] = count
        }
        logs.flush()
        sums.estimated = negatives.estimated
        mark(F.self, gtOffsets, from: 0, to: shape.boxCount &* 4, into: &rawMarks, scalar: &scalarMarks)
        mark(F.self, predOffsets, from: 0, to: shape.boxCount &* 4, into: &rawMarks, scalar: &scalarMarks)
        sums.sawNonfinite = SSDLoss.sawNonfinite(F.self, rawMarks) || SSDLoss.sawNonfinite(scalarMarks)
        return sums
    }

    /// ORs the exponent test of elements `from ..< to` at `base` into `marks`, eight lanes at a
    /// time, and the few left over into `scalar`.
    @inline(__always)
    private static func mark<F: LaneFormat>(
        _ format: F.Type, _ base: UnsafeRawPointer, from: Int, to: Int, into marks: inout F.Raw,
        scalar: inout UInt64
    ) {
        let exponent = F.Raw(repeating: F.exponentBits)
        let step = F.Raw(repeating: F.exponentStep)
        var element = from
        while element &+ 8 <= to {
            marks |= (F.raw(base, element) & exponent) &+ step
            element &+= 8
        }
        while element < to {
            scalar |= nonfiniteMark(F.Reader.load(base, element))
            element &+= 1
        }
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

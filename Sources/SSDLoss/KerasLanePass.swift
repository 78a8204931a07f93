/// The streaming pass for keras-layout float32, float16 and bfloat16 batches, eight lanes at a time.
///
/// Almost every box of an SSD batch is a one-hot negative: `t[0] = 1`, every other target 0.
/// For those the loss is `-log(max(p[0], 1e-15))` (probabilities) or `(top - p[0]) + log(sum)`
/// (logits), and neither `pos` nor the offsets matter. The pass recognizes them with vector
/// operations alone (an XOR against the expected targets, OR-ed over the box), reads `p[0]`,
/// and leaves the logarithm to ``DeferredLogs``, which takes eight at a time. With logits it
/// only estimates the loss (``LogitEstimate``), which decides whether it is zero, and stores a
/// bound and the box's index; ``LogitRefinement`` computes the exact loss afterwards for the
/// few negatives that can be mined. Every other box
/// (positives, ignored boxes, soft labels) goes through the scalar per-box functions of
/// ``StreamingPass``, which are exact for anything.
///
/// Non-finite values: the class lanes of `y_pred` and the offsets of both tensors go through the
/// exponent test of ``LaneFormat/exponentStep`` on their bits; a non-finite target can never
/// look one-hot, so it reaches the scalar functions, whose exponent test marks it. Neither test
/// has false positives, and neither converts anything to float32: with probabilities, a box
/// costs a few integer operations per eight entries whatever the scalar type.
enum KerasLanePass {
    static func run<F: LaneFormat, S: ClassScoring>(
        _ format: F.Type, _ scoring: S.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer,
        shape: BatchShape, workspace: LossWorkspace
    ) -> BatchSums {
        let classes = shape.classes
        let width = shape.kerasWidth
        let masks = LaneMasks.allocate(classes: classes)
        defer { masks.deallocate() }
        let rawMasks = RawMasks<F>.allocate(classes: classes)
        defer { rawMasks.deallocate() }
        let staged = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: masks.count)
        defer { staged.deallocate() }
        // Lane 0 of every chunk aliases class 0, 8, 16…: only lane 0's sign bit counts, the
        // others' signs are ignored (a −0 target is zero). A −0 in class 8 or 16 sends its box
        // to the scalar path, which is merely slower.
        var signless = F.Raw(repeating: ~F.signBit)
        signless[0] = ~0
        let step = F.Raw(repeating: F.exponentStep)
        var logs = DeferredLogs(workspace: workspace, negate: !S.usesLogits)
        // Read once: each access to the lazily built table would check that it is built.
        let negativeLogTable = S.usesLogits ? nil : F.negativeLogTable
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var negatives = LogitNegatives(workspace: workspace)
        var sums = BatchSums(images: shape.batch)
        var count = 0
        var marks: UInt64 = 0
        var rawMarks = F.Raw()
        var offsetMarks = SIMD4<UInt32>()
        for b in 0..<shape.batch {
            var positives = 0.0
            var classPositive = 0.0
            var localization = 0.0
            for n in 0..<shape.boxes {
                let box = b &* shape.boxes &+ n
                let row = box &* width
                var notNegative = F.Raw()
                // Logits: the lanes of the odds `sum_{k≥1} exp(p[k] - p[0])`, estimated.
                let background = SIMD8<Float>(repeating: S.usesLogits ? F.scalar(yPred, row) : 0)
                var odds = SIMD8<Float>()
                var peak = SIMD8<Float>(repeating: -.infinity)
                for chunk in 0..<rawMasks.count {
                    let mask = rawMasks[chunk]
                    let element = row &+ chunk &* 8
                    notNegative |= (F.raw(yTrue, element) & mask.classBits) ^ mask.negativeTarget
                    let prediction = F.raw(yPred, element)
                    rawMarks |= (prediction & mask.exponent) &+ step
                    if S.usesLogits {
                        let difference = F.float(prediction) - background
                        peak = lanewiseMax(peak, difference)
                        odds += floatLanes(bitLanes(boundingExp(difference)) & masks[chunk].otherClassBits)
                    }
                }
                offsetMarks |= F.quadMarks(yTrue, row &+ classes) | F.quadMarks(yPred, row &+ classes)
                if F.isZero(notNegative & signless) {
                    let p0 = F.scalar(yPred, row)
                    if S.usesLogits {
                        let estimate = horizontalSum(odds)
                        negatives.record(
                            LogitEstimate.classify(estimate, largestDifference: horizontalMax(peak)),
                            estimate: estimate, box: box, format, yPred, row: row, masks: masks, staged: staged,
                            logs: &logs, count: &count)
                    } else if let table = negativeLogTable {
                        let nl = table[F.pattern(yPred, row)]
                        if nl != 0 {
                            negativeLosses[count] = nl
                            classLosses[count] = nl
                            count &+= 1
                        }
                    } else {
                        let argument = max(Double(p0), ProbabilityScoring.floor)
                        if argument != 1 {
                            logs.append(argument, slot: count)
                            count &+= 1
                        }
                    }
                    continue
                }
                let (cl, neg, pos) = S.kerasClassLoss(
                    F.Reader.self, yTrue: yTrue, yPred: yPred, row: row, classes: classes, marks: &marks)
                if pos != 0 {
                    let ll = localizationLoss(
                        F.Reader.self, truth: yTrue, truthRow: row &+ classes,
                        prediction: yPred, predictionRow: row &+ classes, marks: &marks)
                    positives += pos
                    classPositive += cl * pos
                    localization += ll * pos
                }
                if neg != 0 {
                    let nl = cl * neg
                    if nl != 0 {
                        logs.flush()
                        negatives.markExact(count)
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
        logs.flush()
        sums.estimated = negatives.estimated
        let offsetsMarked = (offsetMarks[0] | offsetMarks[1] | offsetMarks[2] | offsetMarks[3]) & 0x8000_0000 != 0
        sums.sawNonfinite = sawNonfinite(marks) || sawNonfinite(F.self, rawMarks) || offsetsMarked
        return sums
    }
}

/// Where the lane passes put the logits negatives they meet: an estimated one as its box, its
/// bound and a loss of −∞; an exact one as a scheduled loss and no box.
struct LogitNegatives {
    private let negativeBoxes: UnsafeMutablePointer<Int>
    private let bounds: UnsafeMutablePointer<Double>
    private let negativeLosses: UnsafeMutablePointer<Double>
    /// How many negatives were recorded as estimates.
    private(set) var estimated = 0

    init(workspace: LossWorkspace) {
        negativeBoxes = workspace.negativeBoxes
        bounds = workspace.bounds
        negativeLosses = workspace.negativeLosses
    }

    /// Records the one-hot negative `box`, whose logits start at element `row` of `base`, by
    /// its verdict, in workspace slot `count` (advanced when the loss is not zero).
    @inline(__always)
    mutating func record<F: LaneFormat>(
        _ verdict: LogitEstimate.Verdict, estimate: Float, box: Int, _ format: F.Type,
        _ base: UnsafeRawPointer, row: Int, masks: UnsafeMutableBufferPointer<LaneMasks>,
        staged: UnsafeMutablePointer<SIMD8<Float>>, logs: inout DeferredLogs, count: inout Int
    ) {
        switch verdict {
        case .zero:
            break
        case .estimated:
            // Stored directly: the deferred logs must not hold a slot before this one.
            logs.flush()
            negativeBoxes[count] = box
            bounds[count] = LogitEstimate.lowerBound(estimate)
            negativeLosses[count] = -.infinity
            count &+= 1
            estimated &+= 1
        case .exact:
            let (sum, addend) = SoftmaxLanes.lossTerms(format, base, row: row, target: 0, masks: masks, staged: staged)
            if addend != 0 || sum != 1 {
                markExact(count)
                logs.append(sum, plus: addend, slot: count)
                count &+= 1
            }
        }
    }

    /// Marks slot `slot` as holding an exact loss (stored by the caller).
    @inline(__always)
    func markExact(_ slot: Int) {
        negativeBoxes[slot] = -1
    }
}

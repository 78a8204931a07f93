#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Computes exact losses for the logits negatives that a pass only estimated, where mining can
/// pick them (see ``LogitEstimate``).
///
/// The pass stores, for an estimated negative, its box index, a lower bound of `G = expm1(nl)`
/// and a loss of −∞. Here, per mining scope (the batch, or each image), the k-th largest lower
/// bound `τ` of `G` over all the scope's negatives (exact ones enter as `expm1(nl)`) shows that
/// at least k of them have `G ≥ τ`. An estimated negative whose upper bound of `G` is below `τ`
/// therefore has a loss below the k-th largest, can never be mined, and keeps its −∞; every
/// other one gets its exact loss. In an SSD batch that is barely more than the k mined, so the
/// exact log-sum-exp (about sixty vector instructions per eight logits) is taken for a few
/// percent of the boxes.
enum LogitRefinement {
    /// Fills in `expm1(nl)` as the bound of every negative in `entries` whose loss is exact.
    static func boundExactEntries(workspace: LossWorkspace, entries: Range<Int>) {
        let negativeBoxes = workspace.negativeBoxes
        let bounds = workspace.bounds
        let negativeLosses = workspace.negativeLosses
        for entry in entries where negativeBoxes[entry] < 0 {
            bounds[entry] = expm1(negativeLosses[entry])
        }
    }

    /// The gate on lower bounds for a scope whose k-th largest lower bound of `G` is `kth`: the
    /// smallest ``LogitEstimate/lowerBound(_:)`` whose upper bound of `G` (the bound times
    /// `upperFactor / lowerFactor`) can reach `kth`, rounded generously; −∞ when every estimated
    /// negative can (`kth` is −∞, or not positive while every estimated `G` is).
    static func gate(kth: Double) -> Double {
        // `kth` itself may be one rounding above a `G` it stands for.
        let threshold = kth - 1e-12 * (1 + abs(kth))
        guard threshold > 0 else { return -.infinity }
        return threshold * (LogitEstimate.lowerFactor / LogitEstimate.upperFactor) * (1 - 1e-12)
    }

    /// Computes the exact loss of the estimated negatives of `entries` whose bound is at least `gate`.
    ///
    /// - Parameters:
    ///   - scores: The tensor holding each box's C logits, box `i` from element `i * rowStride`.
    ///   - elements: The number of elements of `scores`: rows whose last chunk of eight would
    ///     read past it are copied first.
    static func refine<F: LaneFormat>(
        _ format: F.Type, scores: UnsafeRawPointer, rowStride: Int, elements: Int, classes: Int,
        workspace: LossWorkspace, entries: Range<Int>, gate: Double
    ) {
        let masks = LaneMasks.allocate(classes: classes)
        defer { masks.deallocate() }
        let staged = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: masks.count)
        defer { staged.deallocate() }
        let span = masks.count &* 8
        let tail = UnsafeMutableRawPointer.allocate(byteCount: span &* F.Reader.byteWidth, alignment: 16)
        defer { tail.deallocate() }
        let negativeBoxes = workspace.negativeBoxes
        let bounds = workspace.bounds
        // The candidates first, into the selection's scratch (free until the final mining).
        let candidates = workspace.indices
        var count = 0
        for entry in entries {
            // Branch-free: almost no entry passes, and a branch per entry mispredicts on those.
            // (`box >> 63 + 1` is 1 for an estimated negative's box, 0 for the −1 of an exact one.)
            candidates[count] = entry
            count &+= (bounds[entry] >= gate ? 1 : 0) & ((negativeBoxes[entry] &>> 63) &+ 1)
        }
        var pending = PendingLosses(workspace: workspace)
        let rowBytes = span &* F.Reader.byteWidth
        var touched: UInt8 = 0
        var groupStart = 0
        while groupStart < count {
            // The rows were read long ago and have left the caches. Loading one byte of each
            // cache line of a group's rows first lets their misses overlap, instead of one
            // row's miss stalling each box in turn.
            let groupEnd = min(groupStart &+ 16, count)
            for candidate in groupStart..<groupEnd {
                let start = negativeBoxes[candidates[candidate]] &* rowStride &* F.Reader.byteWidth
                var offset = 0
                while offset < rowBytes, start &+ offset < elements &* F.Reader.byteWidth {
                    touched |= scores.load(fromByteOffset: start &+ offset, as: UInt8.self)
                    offset &+= 64
                }
            }
            for candidate in groupStart..<groupEnd {
                let entry = candidates[candidate]
                var base = scores
                var row = negativeBoxes[entry] &* rowStride
                if row &+ span > elements {
                    tail.initializeMemory(as: UInt8.self, repeating: 0, count: rowBytes)
                    tail.copyMemory(from: scores + row &* F.Reader.byteWidth, byteCount: classes &* F.Reader.byteWidth)
                    base = UnsafeRawPointer(tail)
                    row = 0
                }
                let (sum, addend) = SoftmaxLanes.lossTerms(
                    format, base, row: row, target: 0, masks: masks, staged: staged)
                pending.append(sum, plus: addend, entry: entry)
            }
            groupStart = groupEnd
        }
        workspace.touched = touched
        pending.flush()
    }
}

/// Exact losses `addend + log(sum)` for scattered workspace entries, eight logarithms at a time.
private struct PendingLosses: ~Copyable {
    private var sums = SIMD8<Double>(repeating: 1)
    private var addends = SIMD8<Double>()
    private var entries = SIMD8<Int>()
    private var count = 0
    private let negativeLosses: UnsafeMutablePointer<Double>
    private let classLosses: UnsafeMutablePointer<Double>

    init(workspace: LossWorkspace) {
        negativeLosses = workspace.negativeLosses
        classLosses = workspace.classLosses
    }

    mutating func append(_ sum: Double, plus addend: Double, entry: Int) {
        sums[count] = sum
        addends[count] = addend
        entries[count] = entry
        count &+= 1
        if count == 8 { flush() }
    }

    /// Stores every pending loss; unused lanes take log(1) and are not stored.
    mutating func flush() {
        guard count > 0 else { return }
        let losses = addends + vectorLog(sums)
        for lane in 0..<count {
            negativeLosses[entries[lane]] = losses[lane]
            classLosses[entries[lane]] = losses[lane]
        }
        sums = SIMD8(repeating: 1)
        count = 0
    }
}

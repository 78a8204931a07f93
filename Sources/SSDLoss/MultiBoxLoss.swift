/// The SSD MultiBox loss with hard-negative mining (SPEC §1): the kernel of lossd.
///
/// One call reads a batch's tensors once, in place, and returns the loss and the counts that
/// explain it. The computation is deterministic: the same bytes and parameters give the same
/// result, bit for bit. Sums are accumulated in `Double` whatever the scalar type.
///
/// ```swift
/// let loss = MultiBoxLoss(parameters: .init(negPosRatio: 3))
/// let result = try loss.compute(.keras(yTrue: t, yPred: p), shape: shape, dtype: .float32)
/// ```
public struct MultiBoxLoss: Sendable {
    /// The ratio, minimum, weight, mining mode and score kind used by ``compute(_:shape:dtype:workspace:)``.
    public var parameters: LossParameters

    /// Creates a kernel; the default parameters are the reference loss's.
    public init(parameters: LossParameters = .init()) {
        self.parameters = parameters
    }

    /// Computes the loss of one batch.
    ///
    /// In the `keras` layout the loss reads, per box, the C class entries and the 4 offsets of
    /// `y_true` and `y_pred`; the 8 trailing entries are never read, so they may hold anything,
    /// NaN included. A box whose class targets are all zero is ignored (it is still checked for
    /// non-finite values). In the `compact` layout every value of every tensor is read.
    ///
    /// - Parameters:
    ///   - input: The tensors, as little-endian bytes of `dtype` (labels are int32). They are
    ///     read, never copied, and need no particular alignment.
    ///   - shape: B, N and C. The caller guarantees B ≥ 1, N ≥ 1 and C ≥ 2 (the wire decoder
    ///     checks them); other shapes stop the program.
    ///   - dtype: The scalar type of every floating-point tensor.
    ///   - workspace: Scratch to reuse across calls on one thread; without one, the call
    ///     allocates its own.
    /// - Throws: ``LossError/sizeMismatch(tensor:expectedBytes:actualBytes:)`` when a buffer's
    ///   size does not match `shape` and `dtype` (checked before anything is read),
    ///   ``LossError/labelOutOfRange(box:label:classes:)`` for a compact label outside −1…C−1,
    ///   ``LossError/nonfinite(_:)`` when any value the loss reads is NaN or ±Inf.
    public func compute(
        _ input: LossInput, shape: BatchShape, dtype: ScalarType, workspace: LossWorkspace? = nil
    ) throws(LossError) -> LossResult {
        precondition(
            shape.batch >= 1 && shape.boxes >= 1 && shape.classes >= 2,
            "MultiBoxLoss needs batch ≥ 1, boxes ≥ 1 and classes ≥ 2, got \(shape)")
        try Self.checkSizes(input, shape: shape, dtype: dtype)
        let workspace = workspace ?? LossWorkspace()
        workspace.reserve(boxes: shape.boxCount)
        let sums: BatchSums
        #if _endian(little)
        switch dtype {
        case .float32: sums = try streamLanes(input, Float32Lanes.self, shape: shape, workspace: workspace)
        case .float16: sums = try streamLanes(input, Float16Lanes.self, shape: shape, workspace: workspace)
        case .bfloat16: sums = try streamLanes(input, BFloat16Lanes.self, shape: shape, workspace: workspace)
        case .float64: sums = try stream(input, Float64Reader.self, shape: shape, workspace: workspace)
        }
        #else
        // The vectorized passes load lanes as the bytes lie, which needs a little-endian host.
        switch dtype {
        case .float32: sums = try stream(input, Float32Reader.self, shape: shape, workspace: workspace)
        case .float16: sums = try stream(input, Float16Reader.self, shape: shape, workspace: workspace)
        case .bfloat16: sums = try stream(input, BFloat16Reader.self, shape: shape, workspace: workspace)
        case .float64: sums = try stream(input, Float64Reader.self, shape: shape, workspace: workspace)
        }
        #endif
        guard parameters.profile == .keras else {
            return mineByProfile(sums, shape: shape, workspace: workspace, input: input, dtype: dtype)
        }
        return mine(sums, shape: shape, workspace: workspace)
    }

    /// The streaming pass for one scalar type; on a non-finite value, the counting pass and a throw.
    private func stream<R: ScalarReader>(
        _ input: LossInput, _ reader: R.Type, shape: BatchShape, workspace: LossWorkspace
    ) throws(LossError) -> BatchSums {
        switch input {
        case .keras(let yTrue, let yPred):
            guard let t = yTrue.baseAddress, let p = yPred.baseAddress else {
                return BatchSums(images: shape.batch)
            }
            let sums =
                switch parameters.scores {
                case .probabilities:
                    StreamingPass.keras(
                        reader, ProbabilityScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace)
                case .logits:
                    StreamingPass.keras(
                        reader, LogitScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace)
                }
            if sums.sawNonfinite {
                throw .nonfinite(NonfiniteScanner.keras(reader, yTrue: t, yPred: p, shape: shape))
            }
            return sums
        case .compact(let labels, let gtOffsets, let scores, let predOffsets):
            guard let l = labels.baseAddress, let g = gtOffsets.baseAddress, let s = scores.baseAddress,
                let q = predOffsets.baseAddress
            else { return BatchSums(images: shape.batch) }
            let sums =
                switch parameters.scores {
                case .probabilities:
                    try StreamingPass.compact(
                        reader, ProbabilityScoring.self, labels: l, gtOffsets: g, scores: s, predOffsets: q,
                        shape: shape, workspace: workspace)
                case .logits:
                    try StreamingPass.compact(
                        reader, LogitScoring.self, labels: l, gtOffsets: g, scores: s, predOffsets: q,
                        shape: shape, workspace: workspace)
                }
            if sums.sawNonfinite {
                throw .nonfinite(
                    NonfiniteScanner.compact(reader, gtOffsets: g, scores: s, predOffsets: q, shape: shape))
            }
            return sums
        }
    }

    /// The vectorized streaming pass for one lane format (float32, float16, bfloat16); on a
    /// non-finite value, the counting pass and a throw.
    private func streamLanes<F: LaneFormat>(
        _ input: LossInput, _ format: F.Type, shape: BatchShape, workspace: LossWorkspace
    ) throws(LossError) -> BatchSums {
        switch input {
        case .keras(let yTrue, let yPred):
            guard let t = yTrue.baseAddress, let p = yPred.baseAddress else {
                return BatchSums(images: shape.batch)
            }
            let sums =
                switch parameters.scores {
                case .probabilities:
                    KerasLanePass.run(
                        format, ProbabilityScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace)
                case .logits:
                    KerasLanePass.run(format, LogitScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace)
                }
            if sums.sawNonfinite {
                throw .nonfinite(NonfiniteScanner.keras(F.Reader.self, yTrue: t, yPred: p, shape: shape))
            }
            refineEstimates(sums, workspace: workspace) { entries, gate in
                LogitRefinement.refine(
                    format, scores: p, rowStride: shape.kerasWidth, elements: shape.boxCount &* shape.kerasWidth,
                    classes: shape.classes, workspace: workspace, entries: entries, gate: gate)
            }
            return sums
        case .compact(let labels, let gtOffsets, let scores, let predOffsets):
            guard let l = labels.baseAddress, let g = gtOffsets.baseAddress, let s = scores.baseAddress,
                let q = predOffsets.baseAddress
            else { return BatchSums(images: shape.batch) }
            let sums =
                switch parameters.scores {
                case .probabilities:
                    try CompactLanePass.run(
                        format, ProbabilityScoring.self, labels: l, gtOffsets: g, scores: s, predOffsets: q,
                        shape: shape, workspace: workspace)
                case .logits:
                    try CompactLanePass.run(
                        format, LogitScoring.self, labels: l, gtOffsets: g, scores: s, predOffsets: q,
                        shape: shape, workspace: workspace)
                }
            if sums.sawNonfinite {
                throw .nonfinite(
                    NonfiniteScanner.compact(F.Reader.self, gtOffsets: g, scores: s, predOffsets: q, shape: shape))
            }
            refineEstimates(sums, workspace: workspace) { entries, gate in
                LogitRefinement.refine(
                    format, scores: s, rowStride: shape.classes, elements: shape.boxCount &* shape.classes,
                    classes: shape.classes, workspace: workspace, entries: entries, gate: gate)
            }
            return sums
        }
    }

    /// Computes the exact loss of every estimated negative that mining can pick, when the pass
    /// estimated some (logits): per mining scope, the k-th largest lower bound of `expm1(nl)`
    /// sets the gate that `refine(entries, gate)` applies (see ``LogitRefinement``).
    private func refineEstimates(
        _ sums: BatchSums, workspace: LossWorkspace, refine: (Range<Int>, Double) -> Void
    ) {
        guard sums.estimated > 0 else { return }
        let available = sums.segmentEnds.last ?? 0
        // Exact entries (soft targets, undecided estimates) are rare: skip the pass without them.
        let hasExact = sums.estimated < available
        switch miningScope {
        case .batch:
            let k = negativesToKeep(positives: sums.positives.reduce(0, +), available: available)
            guard k > 0 else { return }
            if hasExact { LogitRefinement.boundExactEntries(workspace: workspace, entries: 0..<available) }
            let kth = HardNegativeMiner.kthLargest(workspace, of: workspace.bounds, entries: 0..<available, k: k)
            refine(0..<available, LogitRefinement.gate(kth: kth))
        case .image:
            if hasExact { LogitRefinement.boundExactEntries(workspace: workspace, entries: 0..<available) }
            var start = 0
            for image in sums.segmentEnds.indices {
                let end = sums.segmentEnds[image]
                let k = negativesToKeep(positives: sums.positives[image], available: end - start)
                if k > 0 {
                    let kth = HardNegativeMiner.kthLargest(workspace, of: workspace.bounds, entries: start..<end, k: k)
                    refine(start..<end, LogitRefinement.gate(kth: kth))
                }
                start = end
            }
        }
    }

    /// Mining and the final reduction (SPEC §1).
    private func mine(_ sums: BatchSums, shape: BatchShape, workspace: LossWorkspace) -> LossResult {
        let images = shape.batch
        let positives = sums.positives.reduce(0, +)
        var kept: [Double]
        var negatives = 0
        let available = sums.segmentEnds.last ?? 0
        switch parameters.mining {
        case .batch:
            negatives = negativesToKeep(positives: positives, available: available)
            kept = HardNegativeMiner.keptClassLossPerImage(workspace, segmentEnds: sums.segmentEnds, k: negatives)
        case .image:
            kept = Array(repeating: 0, count: images)
            var start = 0
            for image in 0..<images {
                let end = sums.segmentEnds[image]
                let k = negativesToKeep(positives: sums.positives[image], available: end - start)
                kept[image] = HardNegativeMiner.keptClassLoss(workspace, entries: start..<end, k: k)
                negatives += k
                start = end
            }
        }
        let divisor = max(1, positives)
        var perItem = Array(repeating: 0.0, count: images)
        var classPerItem = Array(repeating: 0.0, count: images)
        var classification = 0.0
        var localization = 0.0
        for image in 0..<images {
            let classLoss = sums.classPositive[image] + kept[image]
            classPerItem[image] = classLoss
            perItem[image] = (classLoss + parameters.alpha * sums.localization[image]) / divisor * Double(images)
            classification += classLoss
            localization += sums.localization[image]
        }
        classification /= divisor
        localization /= divisor
        return LossResult(
            perItem: perItem, classPerItem: classPerItem, locPerItem: sums.localization,
            loss: perItem.reduce(0, +) / Double(images),
            classification: classification, localization: localization,
            positives: positives, negatives: negatives, negativesAvailable: available, normalizer: divisor)
    }

    /// `k = min(max(neg_pos_ratio * floor(n_pos), n_neg_min), n_nonzero)`, computed without overflow:
    /// the non-zero negatives whose loss is summed. Profiles other than keras keep no minimum.
    func negativesToKeep(positives: Double, available: Int) -> Int {
        let wanted = Double(parameters.negPosRatio) * positives.rounded(.down)
        let byRatio = wanted >= Double(available) ? available : (wanted > 0 ? Int(wanted) : 0)
        let minimum = parameters.profile == .keras ? parameters.nNegMin : 0
        return max(0, min(max(byRatio, minimum), available))
    }

    /// Where negatives are mined: the configured scope for keras, each image for the others.
    var miningScope: MiningMode {
        parameters.profile == .keras ? parameters.mining : .image
    }

    /// Throws ``LossError/sizeMismatch(tensor:expectedBytes:actualBytes:)`` for the first tensor
    /// whose byte count does not match the layout table (``Layout/tensors(shape:dtype:)``).
    private static func checkSizes(_ input: LossInput, shape: BatchShape, dtype: ScalarType) throws(LossError) {
        for (tensor, buffer) in zip(input.layout.tensors(shape: shape, dtype: dtype), input.buffers) {
            guard buffer.count == tensor.byteCount else {
                throw .sizeMismatch(
                    tensor: tensor.name, expectedBytes: tensor.byteCount ?? .max, actualBytes: buffer.count)
            }
        }
    }
}

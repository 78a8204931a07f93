/// The SSD MultiBox loss with hard-negative mining (SPEC §1): the kernel of lossd.
///
/// One call reads a batch's tensors once, in place, and returns the loss and the counts that
/// explain it. The computation is deterministic: the same bytes and parameters give the same
/// result, bit for bit, on one ``KernelPath`` (the AVX2 copy's fused multiply-adds round
/// differently: the paths agree to about 10⁻⁷). Sums are accumulated in `Double` whatever the
/// scalar type.
///
/// ```swift
/// let loss = MultiBoxLoss(parameters: .init(negPosRatio: 3))
/// let result = try loss.compute(.keras(yTrue: t, yPred: p), shape: shape, dtype: .float32)
/// ```
public struct MultiBoxLoss: Sendable {
    /// The ratio, minimum, weight, mining mode and score kind used by ``compute(_:shape:dtype:workspace:)``.
    public var parameters: LossParameters
    /// The machine code of the vectorized passes: the process's ``KernelPath/active`` unless
    /// set. Both paths give the same mined counts and values within about 10⁻⁷ relative.
    public var path: KernelPath
    /// Whether the result carries ``LossResult/diagnostics`` (the default). Off, the pass runs as
    /// it did before diagnostics existed: `lossd bench` times both to show what they cost.
    public var collectsDiagnostics = true
    /// Tests only: compute with the generic scalar pass, which reads every value as a float64
    /// (the reference the vectorized passes are checked against).
    var usesScalarPass = false

    /// Creates a kernel; the default parameters are the reference loss's, the default path the
    /// process's.
    public init(parameters: LossParameters = .init(), path: KernelPath = .active) {
        self.parameters = parameters
        self.path = path
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
        sums =
            try usesScalarPass
            ? streamScalar(input, dtype: dtype, shape: shape, workspace: workspace)
            : streamVectorized(input, dtype: dtype, shape: shape, workspace: workspace)
        #else
        // The vectorized passes load lanes as the bytes lie, which needs a little-endian host.
        sums = try streamScalar(input, dtype: dtype, shape: shape, workspace: workspace)
        #endif
        var result =
            parameters.profile == .keras
            ? mine(sums, shape: shape, workspace: workspace)
            : mineByProfile(sums, shape: shape, workspace: workspace, input: input, dtype: dtype)
        if collectsDiagnostics { result.diagnostics = BatchDiagnostics(sums, boxes: shape.boxes) }
        return result
    }

    /// The generic scalar pass for the batch's scalar type.
    private func streamScalar(
        _ input: LossInput, dtype: ScalarType, shape: BatchShape, workspace: LossWorkspace
    ) throws(LossError) -> BatchSums {
        workspace.classLossesAreNegativeLosses = false
        return switch dtype {
        case .float32: try stream(input, Float32Reader.self, shape: shape, workspace: workspace)
        case .float16: try stream(input, Float16Reader.self, shape: shape, workspace: workspace)
        case .bfloat16: try stream(input, BFloat16Reader.self, shape: shape, workspace: workspace)
        case .float64: try stream(input, Float64Reader.self, shape: shape, workspace: workspace)
        }
    }

    /// The streaming pass for one scalar type; on a non-finite value, the locator and a throw.
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
                        reader, ProbabilityScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace,
                        diagnostics: collectsDiagnostics)
                case .logits:
                    StreamingPass.keras(
                        reader, LogitScoring.self, yTrue: t, yPred: p, shape: shape, workspace: workspace,
                        diagnostics: collectsDiagnostics)
                }
            if sums.sawNonfinite {
                throw .nonfinite(
                    NonfiniteLocator.keras(reader, yTrue: t, yPred: p, shape: shape, from: sums.nonfiniteImage ?? 0))
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
                        shape: shape, workspace: workspace, diagnostics: collectsDiagnostics)
                case .logits:
                    try StreamingPass.compact(
                        reader, LogitScoring.self, labels: l, gtOffsets: g, scores: s, predOffsets: q,
                        shape: shape, workspace: workspace, diagnostics: collectsDiagnostics)
                }
            if sums.sawNonfinite {
                throw .nonfinite(
                    NonfiniteLocator.compact(
                        reader, gtOffsets: g, scores: s, predOffsets: q, shape: shape, from: sums.nonfiniteImage ?? 0))
            }
            return sums
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
            kept = HardNegativeMiner.keptClassLossPerImage(workspace, segmentEnds: sums.entryEnds, k: negatives)
        case .image:
            kept = Array(repeating: 0, count: images)
            let entryEnds = sums.entryEnds
            var start = 0
            var entry = 0
            for image in 0..<images {
                let end = sums.segmentEnds[image]
                let k = negativesToKeep(positives: sums.positives[image], available: end - start)
                kept[image] = HardNegativeMiner.keptClassLoss(workspace, entries: entry..<entryEnds[image], k: k)
                negatives += k
                start = end
                entry = entryEnds[image]
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

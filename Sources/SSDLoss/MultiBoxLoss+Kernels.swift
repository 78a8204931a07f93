import CLossKernels

/// The vectorized passes (CLossKernels) behind ``MultiBoxLoss/compute(_:shape:dtype:workspace:)``:
/// the batch goes to the C kernel of ``MultiBoxLoss/path`` as pointers and comes back as per-image
/// sums and workspace entries; errors, refinement of logits estimates and mining stay here.
extension MultiBoxLoss {
    /// The streaming pass in the C kernels; on a bad label or a non-finite value, a throw.
    func streamVectorized(
        _ input: LossInput, dtype: ScalarType, shape: BatchShape, workspace: LossWorkspace
    ) throws(LossError) -> BatchSums {
        var batch = lk_batch()
        batch.batch = shape.batch
        batch.boxes = shape.boxes
        batch.classes = shape.classes
        batch.format = dtype.kernelFormat
        batch.logits = parameters.scores == .logits ? 1 : 0
        let scores: UnsafeRawPointer
        let rowStride: Int
        switch input {
        case .keras(let yTrue, let yPred):
            guard let t = yTrue.baseAddress, let p = yPred.baseAddress else { return BatchSums(images: shape.batch) }
            batch.y_true = t
            batch.y_pred = p
            (scores, rowStride) = (p, shape.kerasWidth)
        case .compact(let labels, let gtOffsets, let scoreBytes, let predOffsets):
            guard let l = labels.baseAddress, let g = gtOffsets.baseAddress, let s = scoreBytes.baseAddress,
                let q = predOffsets.baseAddress
            else { return BatchSums(images: shape.batch) }
            batch.labels = l
            batch.gt_offsets = g
            batch.scores = s
            batch.pred_offsets = q
            (scores, rowStride) = (s, shape.classes)
        }
        batch.exact = prefersExactPass(input, shape: shape) ? 1 : 0
        workspace.classLossesAreNegativeLosses = false
        var scratch = workspace.kernelScratch
        var sums = BatchSums(images: shape.batch, classes: collectsDiagnostics ? shape.classes : 0)
        let ran = sums.withKernelSums { output in
            if case .keras = input {
                lk_keras_pass(path.kernel, &batch, &scratch, &output)
            } else {
                lk_compact_pass(path.kernel, &batch, &scratch, &output)
            }
            return output
        }
        workspace.lastPath = KernelPath(ran.path)
        workspace.classLossesAreNegativeLosses = ran.class_losses_separate == 0
        scratch = workspace.kernelScratch
        if ran.bad_label_box >= 0 {
            throw .labelOutOfRange(box: ran.bad_label_box, label: ran.bad_label, classes: shape.classes)
        }
        if ran.saw_nonfinite != 0 {
            throw .nonfinite(Self.nonfiniteReport(input, dtype: dtype, shape: shape, from: sums.nonfiniteImage ?? 0))
        }
        guard sums.estimated > 0 else { return sums }
        if ran.estimates_per_box != 0 {
            sums.minedEntryEnds = refineBoxEstimates(
                sums, batch: batch, exactEntries: ran.exact_entries, workspace: workspace, scratch: scratch)
            return sums
        }
        refineEstimates(sums, workspace: workspace) { entries, gate in
            lk_refine(
                path.kernel, batch.format, scores, rowStride, shape.boxCount &* rowStride, shape.classes, &scratch,
                entries.lowerBound, entries.upperBound, gate)
        }
        return sums
    }

    /// Whether a logits pass should compute every negative exactly rather than estimate them:
    /// when mining keeps so large a share of the negatives that refinement would compute most of
    /// them again after the estimate (see ``exactPassShare``).
    ///
    /// Decided from what is known before the pass, so that a batch's result depends on its bytes
    /// and parameters alone (the two passes can differ in the last bit of a sum, because the
    /// miner then adds the kept losses in another order): `n_neg_min` against the boxes of a
    /// mining scope (``miningScope``: each image for the profiles other than keras), and, in the
    /// compact layout, the positives its labels hold. A keras batch with so many positives that
    /// the ratio keeps most negatives takes the estimates, which then cost up to 1.4 × the exact
    /// pass, still well under the single exact pass of earlier versions (docs/PERFORMANCE.md).
    func prefersExactPass(_ input: LossInput, shape: BatchShape) -> Bool {
        guard parameters.scores == .logits else { return false }
        let scope = miningScope == .batch ? shape.boxCount : shape.boxes
        // Only the keras profile keeps a minimum (the others mine each image with none).
        let minimum = parameters.profile == .keras ? parameters.nNegMin : 0
        if Double(minimum) >= Self.exactPassShare * Double(scope) { return true }
        if case .compact(let labels, _, _, _) = input {
            return minedShare(labels: labels, shape: shape) >= Self.exactPassShare
        }
        return false
    }

    /// The largest share of a mining scope's negatives that the ratio keeps, from compact labels:
    /// `neg_pos_ratio · n_pos / n_neg` (an upper bound: some negatives may have a zero loss).
    private func minedShare(labels: UnsafeRawBufferPointer, shape: BatchShape) -> Double {
        guard parameters.negPosRatio > 0, let base = labels.baseAddress else { return 0 }
        func share(_ first: Int, _ count: Int) -> Double {
            var positives = 0
            var negatives = 0
            lk_count_labels(path.kernel, base + first &* 4, count, &positives, &negatives)
            return Double(parameters.negPosRatio) * Double(positives) / Double(max(1, negatives))
        }
        guard miningScope == .image else { return share(0, shape.boxCount) }
        return (0..<shape.batch).map { share($0 &* shape.boxes, shape.boxes) }.max() ?? 0
    }

    /// The share of the negatives mined above which the exact pass is taken instead of estimates
    /// and refinement. Measured (keras float32 logits, B=8, AVX2, CPU time): with `n_neg_min`
    /// at 35 % of the boxes the estimates took 2.3 ms against 2.7 for the exact pass, at 50 %
    /// 3.3–4.2 against 2.9, at 99 % 3.4–3.5 against 2.4–2.7 (docs/PERFORMANCE.md).
    static let exactPassShare = 0.4

    /// Computes the exact loss of every estimated negative that mining can pick, when the pass
    /// estimated some (logits): per mining scope, the k-th largest lower bound of `expm1(nl)`
    /// sets the gate that `refine(entries, gate)` applies (see ``LogitRefinement``).
    func refineEstimates(_ sums: BatchSums, workspace: LossWorkspace, refine: (Range<Int>, Double) -> Void) {
        guard sums.estimated > 0 else { return }
        let available = sums.segmentEnds.last ?? 0
        // Exact entries (soft targets, undecided estimates) are rare: skip the pass without them.
        let hasExact = sums.estimated < available
        switch miningScope {
        case .batch:
            let k = negativesToKeep(positives: sums.positives.reduce(0, +), available: available)
            guard k > 0 else { return }
            if hasExact { LogitRefinement.boundExactEntries(workspace: workspace, entries: 0..<available) }
            refine(0..<available, LogitRefinement.gate(kth: kthLargestBound(workspace, entries: 0..<available, k: k)))
        case .image:
            if hasExact { LogitRefinement.boundExactEntries(workspace: workspace, entries: 0..<available) }
            var start = 0
            for image in sums.segmentEnds.indices {
                let end = sums.segmentEnds[image]
                let k = negativesToKeep(positives: sums.positives[image], available: end - start)
                if k > 0 {
                    refine(
                        start..<end, LogitRefinement.gate(kth: kthLargestBound(workspace, entries: start..<end, k: k)))
                }
                start = end
            }
        }
    }

    /// After a pass that left its estimates per box (the compact layout), the miner's entries:
    /// per mining scope, the exact losses of the estimated negatives that mining can pick and of
    /// the negatives the pass computed exactly, in box order (`lk_refine_estimates`), copied to
    /// the negative losses. Returns where each image's entries end.
    func refineBoxEstimates(
        _ sums: BatchSums, batch: lk_batch, exactEntries: Int, workspace: LossWorkspace, scratch: lk_workspace
    ) -> [Int] {
        var batch = batch
        var scratch = scratch
        var entryEnds = Array(repeating: 0, count: sums.segmentEnds.count)
        var cursor = 0
        var entries = 0
        entryEnds.withUnsafeMutableBufferPointer { ends in
            switch miningScope {
            case .batch:
                let k = negativesToKeep(positives: sums.positives.reduce(0, +), available: sums.segmentEnds.last ?? 0)
                entries = lk_refine_estimates(
                    path.kernel, &batch, &scratch, 0, ends.count, k, exactEntries, &cursor, 0, ends.baseAddress)
            case .image:
                var start = 0
                for image in 0..<ends.count {
                    let end = sums.segmentEnds[image]
                    let k = negativesToKeep(positives: sums.positives[image], available: end - start)
                    entries = lk_refine_estimates(
                        path.kernel, &batch, &scratch, image, 1, k, exactEntries, &cursor, entries, ends.baseAddress)
                    start = end
                }
            }
        }
        workspace.negativeLosses.update(from: workspace.bounds, count: entries)
        return entryEnds
    }

    /// The k-th largest bound of `entries` (the selection in the C kernels, whose scratch is the
    /// workspace's candidate indices, free until the final mining).
    private func kthLargestBound(_ workspace: LossWorkspace, entries: Range<Int>, k: Int) -> Double {
        lk_kth_largest(path.kernel, workspace.bounds + entries.lowerBound, entries.count, k, workspace.indices)
    }

    /// The NaN and ±Inf values the loss reads, counted and located from image `first` on (where
    /// the pass stopped; the images before it are finite), for the error.
    static func nonfiniteReport(
        _ input: LossInput, dtype: ScalarType, shape: BatchShape, from first: Int
    )
        -> NonfiniteReport
    {
        switch dtype {
        case .float32: nonfiniteReport(input, Float32Reader.self, shape: shape, from: first)
        case .float16: nonfiniteReport(input, Float16Reader.self, shape: shape, from: first)
        case .bfloat16: nonfiniteReport(input, BFloat16Reader.self, shape: shape, from: first)
        case .float64: nonfiniteReport(input, Float64Reader.self, shape: shape, from: first)
        }
    }

    private static func nonfiniteReport<R: ScalarReader>(
        _ input: LossInput, _ reader: R.Type, shape: BatchShape, from first: Int
    ) -> NonfiniteReport {
        switch input {
        case .keras(let yTrue, let yPred):
            guard let t = yTrue.baseAddress, let p = yPred.baseAddress else { return NonfiniteReport(entries: []) }
            return NonfiniteLocator.keras(reader, yTrue: t, yPred: p, shape: shape, from: first)
        case .compact(_, let gtOffsets, let scores, let predOffsets):
            guard let g = gtOffsets.baseAddress, let s = scores.baseAddress, let q = predOffsets.baseAddress else {
                return NonfiniteReport(entries: [])
            }
            return NonfiniteLocator.compact(reader, gtOffsets: g, scores: s, predOffsets: q, shape: shape, from: first)
        }
    }
}

extension ScalarType {
    /// The C kernels' name for the type.
    var kernelFormat: lk_format {
        switch self {
        case .float32: LK_FLOAT32
        case .float16: LK_FLOAT16
        case .bfloat16: LK_BFLOAT16
        case .float64: LK_FLOAT64
        }
    }
}

extension BatchSums {
    /// Runs `body` with C sums whose per-image arrays are this value's, then takes its estimate count.
    mutating func withKernelSums(_ body: (inout lk_sums) -> lk_sums) -> lk_sums {
        var ran = lk_sums()
        positives.withUnsafeMutableBufferPointer { positives in
            classPositive.withUnsafeMutableBufferPointer { classPositive in
                localization.withUnsafeMutableBufferPointer { localization in
                    segmentEnds.withUnsafeMutableBufferPointer { segmentEnds in
                        classPositives.withUnsafeMutableBufferPointer { classPositives in
                            classClassification.withUnsafeMutableBufferPointer { classClassification in
                                var output = lk_sums()
                                output.positives = positives.baseAddress
                                output.class_positive = classPositive.baseAddress
                                output.localization = localization.baseAddress
                                output.segment_ends = segmentEnds.baseAddress
                                // Empty arrays (no diagnostics) give NULL: the pass skips them.
                                output.class_positives = classPositives.isEmpty ? nil : classPositives.baseAddress
                                output.class_classification =
                                    classClassification.isEmpty ? nil : classClassification.baseAddress
                                ran = body(&output)
                            }
                        }
                    }
                }
            }
        }
        estimated = ran.estimated
        sawNonfinite = ran.saw_nonfinite != 0
        nonfiniteImage = ran.nonfinite_image >= 0 ? ran.nonfinite_image : nil
        return ran
    }
}

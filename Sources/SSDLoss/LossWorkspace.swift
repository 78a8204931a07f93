import CLossKernels

/// Reusable scratch memory for ``MultiBoxLoss``: the per-box negative losses and the selection's keys.
///
/// A workspace grows to the largest batch it has served and keeps that memory, so a worker thread
/// that computes batch after batch allocates nothing in steady state. It holds per-box scratch
/// only, never copies of the input tensors.
///
/// Not thread-safe: give each thread its own workspace.
public final class LossWorkspace {
    /// Room for this many boxes in each scratch buffer.
    private(set) var capacity: Int = 0
    /// `nl = cl * neg` of the negatives with a non-zero loss, in flat-index order.
    private(set) var negativeLosses: UnsafeMutablePointer<Double>
    /// `cl` of the same negatives, in the same order: ``negativeLosses`` itself when the last
    /// vectorized pass found every negative one-hot (then `cl = nl`, stored once).
    var classLosses: UnsafeMutablePointer<Double> {
        classLossesAreNegativeLosses ? negativeLosses : separateClassLosses
    }
    /// The storage of ``classLosses`` when they differ from the negative losses.
    private(set) var separateClassLosses: UnsafeMutablePointer<Double>
    /// Whether ``classLosses`` are the negative losses (set from what the pass reports).
    var classLossesAreNegativeLosses = false
    /// Order-preserving integer keys of the negative losses, filtered in place by the selection.
    private(set) var keys: UnsafeMutablePointer<UInt64>
    /// The entry index of each of ``keys`` still a candidate of the selection.
    private(set) var indices: UnsafeMutablePointer<Int>
    /// For a negative whose loss is not yet computed (logits, see ``LogitEstimate``), its flat
    /// box index `b * N + n`; −1 for a negative whose stored loss is exact.
    private(set) var negativeBoxes: UnsafeMutablePointer<Int>
    /// Lower bounds of `expm1(nl)` for the same negatives (see ``LogitRefinement``).
    private(set) var bounds: UnsafeMutablePointer<Double>
    /// The compact logits pass's estimate of every box, by flat index (see ``LogitRefinement``).
    private(set) var estimates: UnsafeMutablePointer<Float>
    /// Scratch for the selection over ``estimates``.
    private(set) var selection: UnsafeMutablePointer<Float>
    /// The code path of the last vectorized pass on this workspace, as the kernel reported it
    /// (nil before the first).
    var lastPath: KernelPath?

    /// Creates an empty workspace; it allocates on first use.
    public init() {
        negativeLosses = .allocate(capacity: 1)
        separateClassLosses = .allocate(capacity: 1)
        keys = .allocate(capacity: 1)
        indices = .allocate(capacity: 1)
        negativeBoxes = .allocate(capacity: 1)
        bounds = .allocate(capacity: 1)
        estimates = .allocate(capacity: 1)
        selection = .allocate(capacity: 1)
    }

    deinit {
        negativeLosses.deallocate()
        separateClassLosses.deallocate()
        keys.deallocate()
        indices.deallocate()
        negativeBoxes.deallocate()
        bounds.deallocate()
        estimates.deallocate()
        selection.deallocate()
    }

    /// The scratch as the C kernels take it (``classLosses`` as they are now).
    var kernelScratch: lk_workspace {
        lk_workspace(
            negative_losses: negativeLosses, class_losses: classLosses, bounds: bounds, negative_boxes: negativeBoxes,
            indices: indices, estimates: estimates, selection: selection)
    }

    /// Makes room for `boxes` boxes. The previous contents are discarded.
    func reserve(boxes: Int) {
        guard boxes > capacity else { return }
        negativeLosses.deallocate()
        separateClassLosses.deallocate()
        keys.deallocate()
        indices.deallocate()
        negativeBoxes.deallocate()
        bounds.deallocate()
        estimates.deallocate()
        selection.deallocate()
        negativeLosses = .allocate(capacity: boxes)
        separateClassLosses = .allocate(capacity: boxes)
        keys = .allocate(capacity: boxes)
        indices = .allocate(capacity: boxes)
        negativeBoxes = .allocate(capacity: boxes)
        bounds = .allocate(capacity: boxes)
        estimates = .allocate(capacity: boxes)
        selection = .allocate(capacity: boxes)
        capacity = boxes
    }
}

/// A workspace is mutable scratch owned by one thread at a time.
@available(*, unavailable)
extension LossWorkspace: Sendable {}

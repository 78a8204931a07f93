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
    /// `cl` of the same negatives, in the same order.
    private(set) var classLosses: UnsafeMutablePointer<Double>
    /// Order-preserving integer keys of the negative losses, filtered in place by the selection.
    private(set) var keys: UnsafeMutablePointer<UInt64>
    /// The entry index of each of ``keys`` still a candidate of the selection.
    private(set) var indices: UnsafeMutablePointer<Int>

    /// Creates an empty workspace; it allocates on first use.
    public init() {
        negativeLosses = .allocate(capacity: 1)
        classLosses = .allocate(capacity: 1)
        keys = .allocate(capacity: 1)
        indices = .allocate(capacity: 1)
    }

    deinit {
        negativeLosses.deallocate()
        classLosses.deallocate()
        keys.deallocate()
        indices.deallocate()
    }

    /// Makes room for `boxes` boxes. The previous contents are discarded.
    func reserve(boxes: Int) {
        guard boxes > capacity else { return }
        negativeLosses.deallocate()
        classLosses.deallocate()
        keys.deallocate()
        indices.deallocate()
        negativeLosses = .allocate(capacity: boxes)
        classLosses = .allocate(capacity: boxes)
        keys = .allocate(capacity: boxes)
        indices = .allocate(capacity: boxes)
        capacity = boxes
    }
}

/// A workspace is mutable scratch owned by one thread at a time.
@available(*, unavailable)
extension LossWorkspace: Sendable {}

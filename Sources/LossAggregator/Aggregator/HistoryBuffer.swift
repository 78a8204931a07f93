/// A bounded, downsampled history: at most `capacity − 1` stored points (the series adds one live
/// point, so a chart never has more than `capacity`), however long the run.
///
/// **The scheme: stride doubling with a min/max envelope.** Points are taken once per `stride`
/// ticks (a tick is one batch of the split), at the tick that opens each bucket; the stride starts
/// at 1. When a new bucket would exceed the bound, every other point is dropped (those whose tick
/// is not a multiple of the doubled stride) and the stride doubles, so the points stay evenly
/// spaced and aligned to multiples of the stride. A dropped point's bucket is merged into the one
/// before it: each point also carries the smallest and largest raw per-batch value of its bucket
/// (its envelope), and the merge keeps the min of the mins and the max of the maxes.
///
/// Why this scheme: the charted statistics (`mean`, `ema`, `window`) are already smoothed, so
/// sampling them every `stride` batches loses nothing a chart could show, while averaging adjacent
/// points would shift them and blur where a curve turns. The raw per-batch values are noisy, and a
/// single diverging batch is exactly what a downsampled chart must not hide: the envelope keeps
/// every spike, however long the run. The first point is never dropped (it opens the first
/// bucket), and the series ends with the live statistics, so both ends of a curve are exact.
/// Cost: adding a batch is O(1) (three comparisons, or one new point per `stride` batches);
/// halving is O(capacity) once per doubling of the run's length, so amortized O(1).
struct HistoryBuffer: Sendable, Hashable {
    /// The most points a series has, live point included (at least 4).
    let capacity: Int
    /// Ticks per stored point.
    private(set) var stride = 1
    /// The stored points, oldest first.
    private(set) var samples: [HistorySample] = []

    /// An empty history of at most `capacity` points per series.
    init(capacity: Int) {
        self.capacity = max(4, capacity)
    }

    /// A history restored from saved points: they are halved until they fit `capacity`.
    init(capacity: Int, stride: Int, samples: [HistorySample]) {
        self.init(capacity: capacity)
        self.stride = max(1, stride)
        self.samples = samples
        while self.samples.count > self.capacity - 1 { halve() }
    }

    /// Whether a point should be stored at `tick`; makes room (halving) first when needed.
    /// Call ``append(_:)`` when it returns true, then ``widenLast(loss:classification:localization:)``.
    @inline(__always)
    mutating func opens(tick: Int) -> Bool {
        if samples.isEmpty { return true }
        guard tick % stride == 0 else { return false }
        while samples.count >= capacity - 1 {
            halve()
            if tick % stride != 0 { return false }
        }
        return true
    }

    /// Stores a point opened by ``opens(tick:)``.
    mutating func append(_ sample: HistorySample) {
        samples.append(sample)
    }

    /// Widens the newest point's envelope with one batch's values.
    @inline(__always)
    mutating func widenLast(loss: Double, classification: Double, localization: Double) {
        guard !samples.isEmpty else { return }
        samples[samples.count - 1].widen(loss: loss, classification: classification, localization: localization)
    }

    /// Updates the newest point's counters (errors and lost that changed after it was taken).
    mutating func updateLast(errors: Int, lost: Int) {
        guard !samples.isEmpty else { return }
        samples[samples.count - 1].errors = errors
        samples[samples.count - 1].lost = lost
    }

    /// Doubles the stride, keeping the first point and those on multiples of the new stride and
    /// merging each dropped point's envelope into the point kept before it.
    private mutating func halve() {
        let newStride = stride * 2
        var kept = 0
        for index in samples.indices {
            if index == 0 || samples[index].tick % newStride == 0 {
                samples[kept] = samples[index]
                kept += 1
            } else {
                samples[kept - 1].absorb(samples[index])
            }
        }
        // Points not on the grid (a history restored without alignment) must still shrink.
        if kept == samples.count, kept > 1 {
            samples[kept - 2].absorb(samples[kept - 1])
            kept -= 1
        }
        samples.removeLast(samples.count - kept)
        stride = newStride
    }
}

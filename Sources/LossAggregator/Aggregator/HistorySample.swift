/// One stored point of a (run, split)'s history: the smoothed statistics sampled when its bucket
/// opened, and the range of the raw per-batch values over the whole bucket.
///
/// Values are kept as `Float` (lanes: loss, classification, localization, unused) to halve the
/// memory of a full history; seven significant digits are far finer than a chart's pixel. A lane
/// that has no value (no finite batch yet) is NaN; an empty envelope is +∞ (low) and −∞ (high).
struct HistorySample: Sendable, Hashable {
    /// The downsampler's clock: the batch index (batches − 1) for a live history, the line index
    /// for one read from a snapshots file. Buckets open at multiples of the stride.
    var tick: Int
    /// The split's batch count at this point (the chart's x).
    var batches: Int
    /// The latest `step` at this point, if any record had one.
    var step: Int?
    /// When the point was taken (the record's arrival time), seconds since the Unix epoch.
    var time: Double
    /// Error records of the split so far.
    var errors: Int
    /// Batches of the run counted lost so far (every source of the run).
    var lost: Int
    /// `mean` of each component.
    var mean: SIMD4<Float>
    /// `ema` of each component.
    var ema: SIMD4<Float>
    /// `window` of each component.
    var window: SIMD4<Float>
    /// The smallest per-batch value of each component over the bucket.
    var low = SIMD4<Float>(repeating: .infinity)
    /// The largest per-batch value of each component over the bucket.
    var high = SIMD4<Float>(repeating: -.infinity)

    /// Widens the envelope to include one batch's values; non-finite values are skipped.
    mutating func widen(loss: Double, classification: Double, localization: Double) {
        widen(0, Float(loss))
        widen(1, Float(classification))
        widen(2, Float(localization))
    }

    @inline(__always)
    private mutating func widen(_ lane: Int, _ value: Float) {
        guard value.isFinite else { return }
        if value < low[lane] { low[lane] = value }
        if value > high[lane] { high[lane] = value }
    }

    /// Takes in the envelope of the bucket that follows (when two buckets merge into one).
    mutating func absorb(_ next: HistorySample) {
        low = pointwiseMin(low, next.low)
        high = pointwiseMax(high, next.high)
    }
}

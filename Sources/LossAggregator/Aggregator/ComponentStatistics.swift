/// The running statistics of one loss component (`loss`, `classification` or `localization`) of
/// one (run, split).
///
/// Only finite values enter the statistics; a non-finite value is remembered as ``last`` and
/// otherwise skipped (the (run, split) counts it in ``SplitStatistics/nonfinite``). Weights are
/// batch sizes, so ``mean`` is the Keras epoch average over every image seen.
struct ComponentStatistics: Sendable, Hashable {
    /// Σ w·x over the finite values since start.
    var weightedSum = 0.0
    /// Σ w over the finite values since start.
    var weight = 0.0
    /// The EMA before debiasing: `d·ema + (1−d)·x` per finite value, starting from 0.
    var emaRaw = 0.0
    /// `d^t`, where t is the number of finite values; `1 − d^t` debiases ``emaRaw``.
    var decayPower = 1.0
    /// The latest value, finite or not.
    var last: Double?
    /// The smallest finite value.
    var minimum: Double?
    /// The largest finite value.
    var maximum: Double?
    /// Σ w·x over the finite values of the current epoch.
    var epochSum = 0.0
    /// Σ w over the finite values of the current epoch.
    var epochWeight = 0.0
    /// The mean of the epoch before the current one.
    var lastEpochMean: Double?

    /// Adds one batch's value.
    ///
    /// - Parameters:
    ///   - value: the batch's value of this component.
    ///   - weight: the batch size.
    ///   - decay: the EMA decay.
    ///   - inEpoch: whether the batch belongs to the current epoch (false for a straggler of an
    ///     earlier one).
    mutating func add(_ value: Double, weight batchWeight: Double, decay: Double, inEpoch: Bool) {
        last = value
        guard value.isFinite else { return }
        weightedSum += batchWeight * value
        weight += batchWeight
        emaRaw = decay * emaRaw + (1 - decay) * value
        decayPower *= decay
        minimum = Swift.min(minimum ?? value, value)
        maximum = Swift.max(maximum ?? value, value)
        if inEpoch {
            epochSum += batchWeight * value
            epochWeight += batchWeight
        }
    }

    /// Ends the current epoch: its mean becomes ``lastEpochMean`` and a new epoch starts empty.
    mutating func closeEpoch() {
        lastEpochMean = epochWeight > 0 ? epochSum / epochWeight : nil
        epochSum = 0
        epochWeight = 0
    }

    /// The batch-size-weighted mean since start, or nil before any finite value.
    var mean: Double? { weight > 0 ? weightedSum / weight : nil }

    /// The debiased EMA `ema_t / (1 − d^t)`, or nil before any finite value.
    var ema: Double? { decayPower < 1 ? emaRaw / (1 - decayPower) : nil }

    /// The batch-size-weighted mean of the current epoch, or nil while it is empty.
    var epochMean: Double? { epochWeight > 0 ? epochSum / epochWeight : nil }
}

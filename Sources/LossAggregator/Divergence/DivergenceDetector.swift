/// Why a (run, split) is marked diverging (docs/DIAGNOSTICS.md).
public enum DivergenceReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// Its loss stayed above `divergence_factor` × its running minimum for `divergence_steps`
    /// figures in a row.
    case rising
    /// A batch was not finite: an error record with code `nonfinite` (inputs holding NaN or
    /// infinity, or a loss that overflowed), or a step or batch whose loss is not finite.
    case nonfinite
}

/// Whether one (run, split) is diverging: the state machine behind `lossd_diverging`, the
/// `divergence` object of `/stats` and the `event` topic of the publish socket.
///
/// It reads one **figure** at a time: the `mean` loss of each step as the step closes, for
/// records that carry `step`, `rank` and `world_size`; the loss of each batch for records that do
/// not (docs/DIAGNOSTICS.md says why). The **running minimum** is the smallest positive finite
/// figure so far; a figure above `factor` × that minimum is *above*. The split is marked
/// diverging when
/// - `steps` figures in a row are above (reason ``DivergenceReason/rising``), or
/// - a figure is not finite, or an error record says the batch held NaN or infinity (reason
///   ``DivergenceReason/nonfinite``, at once: a NaN in a model's output does not go away).
///
/// It recovers when `steps` finite figures in a row are within the threshold again (a run
/// resumed from a checkpoint before the divergence, or a spike that passed). O(1) per figure.
struct DivergenceDetector: Sendable, Hashable {
    /// The smallest positive finite figure seen; nil before any.
    var minimum: Double?
    /// Figures in a row above `factor` × ``minimum``.
    var above = 0
    /// Finite figures in a row within `factor` × ``minimum`` (counted while diverging).
    var within = 0
    /// Why the split is diverging now; nil while it is not.
    var reason: DivergenceReason?
    /// The step (or, for figures without one, the batch number) at which it was marked diverging.
    var since: Int?
    /// Times the split was marked diverging since the aggregation started; only goes up.
    var episodes = 0
    /// The latest figure, nil before any or when it was not finite.
    var last: Double?

    /// What one figure changed.
    enum Change: Sendable, Hashable {
        /// The split became diverging.
        case diverging(DivergenceReason)
        /// The split stopped diverging; it had been diverging for this reason.
        case recovered(DivergenceReason)
    }

    /// Whether the split is diverging now.
    var isDiverging: Bool { reason != nil }

    /// Reads one figure at `position` (a step or a batch number); returns what changed, if anything.
    mutating func observe(_ value: Double, at position: Int?, rule: DivergenceRule) -> Change? {
        guard value.isFinite else { return observeNonfinite(at: position) }
        last = value
        let isAbove = minimum.map { value > rule.factor * $0 } ?? false
        if value > 0, value < (minimum ?? .infinity) { minimum = value }
        if isAbove {
            above += 1
            within = 0
        } else {
            above = 0
            within += 1
        }
        if let reason {
            guard within >= rule.steps else { return nil }
            self.reason = nil
            since = nil
            return .recovered(reason)
        }
        guard above >= rule.steps else { return nil }
        return mark(.rising, at: position)
    }

    /// Reads a figure or a batch that is not finite at `position`.
    mutating func observeNonfinite(at position: Int?) -> Change? {
        last = nil
        within = 0
        guard reason == nil else { return nil }
        return mark(.nonfinite, at: position)
    }

    /// The threshold a figure must exceed to count as above, once there is a minimum.
    func threshold(_ rule: DivergenceRule) -> Double? {
        minimum.map { rule.factor * $0 }
    }

    private mutating func mark(_ reason: DivergenceReason, at position: Int?) -> Change {
        self.reason = reason
        since = position
        episodes += 1
        return .diverging(reason)
    }
}

/// The settings of divergence detection: `divergence_factor` and `divergence_steps`.
public struct DivergenceRule: Sendable, Hashable {
    /// A figure above `factor` × the running minimum counts as above. Default 10.
    public var factor: Double
    /// Figures in a row above the threshold that mark a split diverging, and figures in a row
    /// within it that end the mark. Default 3.
    public var steps: Int

    /// The `factor` accepted.
    public static let factorRange = 1.0...1e12
    /// The `steps` accepted.
    public static let stepsRange = 1...100_000

    /// A rule; the defaults suit a loss that falls by less than tenfold during warm-up.
    public init(factor: Double = 10, steps: Int = 3) {
        self.factor = factor
        self.steps = steps
    }
}

/// A detector in a state file: `{"minimum": …, "above": …, "within": …, "reason": …, "since": …,
/// "episodes": …, "last": …}`; an absent key reads as the detector's start value.
extension DivergenceDetector: Codable {
    enum CodingKeys: String, CodingKey {
        case minimum, above, within, reason, since, episodes, last
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        minimum = try container.decodeIfPresent(Double.self, forKey: .minimum)
        above = max(0, try container.decodeIfPresent(Int.self, forKey: .above) ?? 0)
        within = max(0, try container.decodeIfPresent(Int.self, forKey: .within) ?? 0)
        reason = try container.decodeIfPresent(DivergenceReason.self, forKey: .reason)
        since = try container.decodeIfPresent(Int.self, forKey: .since)
        episodes = max(0, try container.decodeIfPresent(Int.self, forKey: .episodes) ?? 0)
        last = try container.decodeIfPresent(Double.self, forKey: .last)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: minimum, forKey: .minimum)
        try container.encode(above, forKey: .above)
        try container.encode(within, forKey: .within)
        try container.encode(reason, forKey: .reason)
        try container.encode(since, forKey: .since)
        try container.encode(episodes, forKey: .episodes)
        try container.encode(finite: last, forKey: .last)
    }
}

/// A (run, split) became diverging or recovered: the body of an `event` message on the publish
/// socket (docs/DIAGNOSTICS.md shows one), and a line of the aggregator's log.
///
/// ```json
/// {"v": 1, "kind": "event", "event": "diverging", "run": "ssd300", "split": "train",
///  "reason": "rising", "step": 412, "batches": 1650, "figure": "step_mean", "time": …,
///  "values": {"loss": 87.1, "minimum": 2.9, "threshold": 29.0, "factor": 10, "steps": 3,
///             "above": 3, "nonfinite": null}}
/// ```
public struct DivergenceEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The split was marked diverging.
        case diverging
        /// The split stopped diverging.
        case recovered
    }

    /// Which figure changed the state.
    public enum Figure: String, Sendable, Hashable, Codable {
        /// The `mean` loss of a step across its ranks, as the step closed.
        case stepMean = "step_mean"
        /// The loss of one batch whose record carries no rank to group it by step.
        case batch
        /// An error record with code `nonfinite`.
        case errorRecord = "error_record"
    }

    /// What happened.
    public var kind: Kind
    /// The run.
    public var run: String
    /// The split.
    public var split: String
    /// Why the split diverges (for ``Kind/recovered``: why it had been diverging).
    public var reason: DivergenceReason
    /// The step of the figure or record, when it had one.
    public var step: Int?
    /// Loss records of the split aggregated so far.
    public var batches: Int
    /// Which figure changed the state.
    public var figure: Figure
    /// The figure's value; nil when it was not finite or was an error record.
    public var value: Double?
    /// The running minimum the rule compares with, once there is one.
    public var minimum: Double?
    /// The rule in force.
    public var rule: DivergenceRule
    /// Figures in a row above the threshold when the event happened.
    public var above: Int
    /// The non-finite values per tensor that the error record reported, when it did.
    public var nonfinite: [String: Int]?
    /// When it happened, in seconds since the Unix epoch.
    public var time: Double

    /// The event as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        JSONFiles.line(self)
    }

    /// A sentence for the log.
    public var summary: String {
        let place = step.map { "step \($0)" } ?? "batch \(batches)"
        switch (kind, reason) {
        case (.diverging, .rising):
            let threshold = minimum.map { " (threshold \(rule.factor) × minimum \($0))" } ?? ""
            return "run \(run), split \(split) is diverging at \(place): \(rule.steps) losses in a row above "
                + "the threshold\(threshold), the latest \(value.map { "\($0)" } ?? "not finite")"
        case (.diverging, .nonfinite):
            let counts = nonfinite.map { counts in
                ": "
                    + counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) has \($0.value)" }
                    .joined(separator: ", ")
            }
            return "run \(run), split \(split) is diverging at \(place): a batch with NaN or infinite values"
                + (counts ?? "")
        case (.recovered, _):
            return
                "run \(run), split \(split) recovered at \(place): \(rule.steps) losses in a row within the threshold"
        }
    }
}

extension DivergenceEvent: Encodable {
    enum CodingKeys: String, CodingKey {
        case v, kind, event, run, split, reason, step, batches, figure, time, values
    }

    enum ValueKeys: String, CodingKey {
        case loss, minimum, threshold, factor, steps, above, nonfinite
    }

    /// The `kind` of an event message.
    static let messageKind = "event"

    /// Writes the event, every key present (`null` for a value it does not have).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(1, forKey: .v)
        try container.encode(Self.messageKind, forKey: .kind)
        try container.encode(kind, forKey: .event)
        try container.encode(run, forKey: .run)
        try container.encode(split, forKey: .split)
        try container.encode(reason, forKey: .reason)
        try container.encode(step, forKey: .step)
        try container.encode(batches, forKey: .batches)
        try container.encode(figure, forKey: .figure)
        try container.encode(finite: time, forKey: .time)
        var values = container.nestedContainer(keyedBy: ValueKeys.self, forKey: .values)
        try values.encode(finite: value, forKey: .loss)
        try values.encode(finite: minimum, forKey: .minimum)
        try values.encode(finite: minimum.map { rule.factor * $0 }, forKey: .threshold)
        try values.encode(rule.factor, forKey: .factor)
        try values.encode(rule.steps, forKey: .steps)
        try values.encode(above, forKey: .above)
        try values.encode(nonfinite, forKey: .nonfinite)
    }
}

/// Whether a (run, split) is diverging, as `/stats` and snapshots show it (`divergence`).
public struct DivergenceStatus: Sendable, Hashable {
    /// Whether it is diverging now.
    public var diverging: Bool
    /// Why, while it is.
    public var reason: DivergenceReason?
    /// The step (or batch number) at which it was marked, while it is.
    public var since: Int?
    /// The running minimum of the figures.
    public var minimum: Double?
    /// The latest figure.
    public var last: Double?
    /// Figures in a row above the threshold now.
    public var above: Int
    /// Times the split was marked diverging since the aggregation started.
    public var episodes: Int

    /// Not diverging, nothing seen.
    public init() {
        diverging = false
        above = 0
        episodes = 0
    }

    init(_ detector: DivergenceDetector) {
        diverging = detector.isDiverging
        reason = detector.reason
        since = detector.since
        minimum = detector.minimum
        last = detector.last
        above = detector.above
        episodes = detector.episodes
    }
}

extension DivergenceStatus: Codable {
    enum CodingKeys: String, CodingKey {
        case diverging, reason, since, minimum, last, above, episodes
    }

    /// Reads one from JSON; an absent key reads as its start value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        diverging = try container.decodeIfPresent(Bool.self, forKey: .diverging) ?? false
        reason = try container.decodeIfPresent(DivergenceReason.self, forKey: .reason)
        since = try container.decodeIfPresent(Int.self, forKey: .since)
        minimum = try container.decodeIfPresent(Double.self, forKey: .minimum)
        last = try container.decodeIfPresent(Double.self, forKey: .last)
        above = try container.decodeIfPresent(Int.self, forKey: .above) ?? 0
        episodes = try container.decodeIfPresent(Int.self, forKey: .episodes) ?? 0
    }

    /// Writes it, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(diverging, forKey: .diverging)
        try container.encode(reason, forKey: .reason)
        try container.encode(since, forKey: .since)
        try container.encode(finite: minimum, forKey: .minimum)
        try container.encode(finite: last, forKey: .last)
        try container.encode(above, forKey: .above)
        try container.encode(episodes, forKey: .episodes)
    }
}

/// One step of a (run, split): the latest record of each rank, and what became of the step.
struct StepEntry: Sendable, Hashable {
    /// Where a step stands.
    enum Status: Sendable, Hashable {
        /// Waiting for ranks until `deadline` (seconds since the Unix epoch).
        case open(deadline: Double)
        /// Every rank of `world_size` has a record.
        case complete
        /// Closed with ranks missing: its timeout passed, or it was the oldest open step when too
        /// many were open. Its figures describe the ranks that arrived and are kept apart from
        /// the complete steps'.
        case partial
    }

    /// The `world_size` of its records.
    var worldSize: Int
    /// The latest record of each rank, by rank.
    var contributions: [Int: StepContribution] = [:]
    /// Open, complete or partial.
    var status: Status
    /// The figures, once the step is closed (complete or partial).
    var figures: StepFigures?
    /// The EMA of the pooled figures over the complete steps up to this one (complete steps only).
    var ema: StepEMA?
    /// When it was last closed, seconds since the Unix epoch.
    var closedAt: Double?
    /// The run's lost batches when it was last closed.
    var lost = 0
    /// The split's error records when it was last closed.
    var errors = 0

    /// Whether it is still waiting for ranks.
    var isOpen: Bool {
        if case .open = status { return true }
        return false
    }

    /// Whether every rank has a record.
    var isComplete: Bool { status == .complete }
}

/// The exponential moving average of the pooled figures over complete steps, in step order:
/// `ema_t = d·ema_{t−1} + (1−d)·x_t` from 0, debiased by `1 − d^t`, one step per complete step
/// whose pooled figures are finite (the same decay as the per-batch EMA).
struct StepEMA: Sendable, Hashable {
    /// `ema_t` before debiasing: loss, classification, localization (lane 3 unused).
    var raw = SIMD4<Double>(repeating: 0)
    /// `d^t`.
    var power = 1.0

    /// The state after one more step with pooled figures `pooled`; unchanged when they are not
    /// all finite.
    func advanced(by pooled: StepValues, decay: Double) -> StepEMA {
        guard let loss = pooled.loss, let classification = pooled.classification,
            let localization = pooled.localization
        else { return self }
        var next = self
        next.raw = decay * raw + (1 - decay) * SIMD4(loss, classification, localization, 0)
        next.power = power * decay
        return next
    }

    /// The debiased values, or none before the first step.
    var values: StepValues {
        guard power < 1 else { return .none }
        let debiased = raw / (1 - power)
        return StepValues(loss: debiased[0], classification: debiased[1], localization: debiased[2])
    }
}

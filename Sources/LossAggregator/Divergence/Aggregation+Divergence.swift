import LossWire

/// Divergence detection (``DivergenceDetector``): what each record and each closed step tells the
/// detector of its (run, split), and the events it raises.
///
/// Events wait in ``Aggregation/events`` (at most ``maxPendingEvents``; the oldest go first and
/// are counted in ``Aggregation/droppedEvents``) until the writer takes them to publish and log.
extension Aggregation {
    /// The most events kept waiting for the writer.
    static let maxPendingEvents = 1024

    /// The events raised since the last call, oldest first, and how many were dropped meanwhile
    /// because more than ``maxPendingEvents`` waited.
    mutating func takeEvents() -> (events: [DivergenceEvent], dropped: Int) {
        defer {
            events.removeAll()
            droppedEvents = 0
        }
        return (events, droppedEvents)
    }

    /// What a loss record told the divergence detector of its (run, split), read in the same
    /// access to the split's statistics as the record's aggregation, and the steps that closed.
    struct DivergenceObservation {
        /// The change the batch's own loss made (when the record is not grouped by step), with
        /// the detector and the split's batch count after it.
        var change: (change: DivergenceDetector.Change, detector: DivergenceDetector, batches: Int)?
        /// The steps that closed since the detector last looked.
        var closed: [StepTable.ClosedStep] = []
    }

    /// Feeds the detector of `statistics` after `record` was aggregated into them: the record's
    /// own loss when it carries no rank to group it by step, and takes the steps that closed.
    /// The events are raised by ``raiseDivergence(_:after:of:at:)`` once the access ends.
    static func observeDivergence(
        after record: LossRecord, in statistics: inout SplitStatistics, rule: DivergenceRule
    ) -> DivergenceObservation {
        var observation = DivergenceObservation()
        if record.step == nil || record.rank == nil || record.worldSize == nil {
            let batches = statistics.batches
            if let change = statistics.divergence.observe(record.loss, at: record.step ?? batches, rule: rule) {
                observation.change = (change, statistics.divergence, batches)
            }
        }
        observation.closed = statistics.steps.takeClosed()
        return observation
    }

    /// Raises the event of `observation`'s change for `key`, then feeds its detector the steps
    /// that closed.
    mutating func raiseDivergence(
        _ observation: DivergenceObservation, after record: LossRecord, of key: SplitKey, at time: Double
    ) {
        if let (change, detector, batches) = observation.change {
            raise(
                change, figure: .batch, value: record.loss.isFinite ? record.loss : nil, step: record.step, of: key,
                detector: detector, batches: batches, nonfinite: nil, at: time)
        }
        for step in observation.closed {
            observe(step.meanLoss ?? .nan, at: step.step, figure: .stepMean, of: key, at: time)
        }
    }

    /// Feeds the detector of `key` the steps that closed since it last looked.
    mutating func detectDivergenceInClosedSteps(of key: SplitKey, at time: Double) {
        guard let closed = splits[key]?.steps.takeClosed(), !closed.isEmpty else { return }
        for step in closed {
            observe(step.meanLoss ?? .nan, at: step.step, figure: .stepMean, of: key, at: time)
        }
    }

    /// Feeds the detector of `key` an error record: one with code `nonfinite` marks the split
    /// diverging.
    mutating func detectDivergence(after error: WireError, of key: SplitKey, at time: Double) {
        guard error.code == .nonfinite, let change = splits[key]?.divergence.observeNonfinite(at: error.labels.step),
            let statistics = splits[key]
        else { return }
        var counts: [String: Int]?
        if case .object(let members)? = error.details?["nonfinite"] {
            counts = members.compactMapValues(\.intValue)
        }
        raise(
            change, figure: .errorRecord, value: nil, step: error.labels.step, of: key,
            detector: statistics.divergence, batches: statistics.batches, nonfinite: counts, at: time)
    }

    private mutating func observe(
        _ value: Double, at step: Int?, figure: DivergenceEvent.Figure, of key: SplitKey, at time: Double
    ) {
        let rule = parameters.divergence
        // Only the detector is touched per figure; the statistics are read when an event is raised.
        guard let batches = splits[key]?.batches,
            let change = splits[key]?.divergence.observe(value, at: step ?? batches, rule: rule),
            let detector = splits[key]?.divergence
        else { return }
        raise(
            change, figure: figure, value: value.isFinite ? value : nil, step: step, of: key, detector: detector,
            batches: batches, nonfinite: nil, at: time)
    }

    private mutating func raise(
        _ change: DivergenceDetector.Change, figure: DivergenceEvent.Figure, value: Double?, step: Int?,
        of key: SplitKey, detector: DivergenceDetector, batches: Int, nonfinite: [String: Int]?, at time: Double
    ) {
        let (kind, reason): (DivergenceEvent.Kind, DivergenceReason) =
            switch change {
            case .diverging(let reason): (.diverging, reason)
            case .recovered(let reason): (.recovered, reason)
            }
        if events.count >= Self.maxPendingEvents {
            events.removeFirst()
            droppedEvents += 1
        }
        events.append(
            DivergenceEvent(
                kind: kind, run: key.run, split: key.split, reason: reason, step: step, batches: batches,
                figure: figure, value: value, minimum: detector.minimum, rule: parameters.divergence,
                above: detector.above, nonfinite: nonfinite, time: time))
    }
}

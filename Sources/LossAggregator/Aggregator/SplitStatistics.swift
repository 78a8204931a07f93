import LossWire

/// Everything kept for one (run, split): counts, the three loss components, the window, the epoch.
///
/// Epochs: the first record carrying an `epoch` names the current epoch; a record with a higher
/// epoch ends it (its means become `last_epoch_mean`) and starts the new one. A record with a
/// lower epoch is a straggler of an epoch already closed (another source of the same split, or a
/// reordered record): it counts everywhere except in the epoch means, and in
/// ``staleEpochBatches``. Records without an `epoch` belong to the current epoch.
struct SplitStatistics: Sendable, Hashable {
    /// Loss records aggregated.
    var batches = 0
    /// Images in them: the sum of their batch sizes.
    var samples = 0
    /// Σ positives (n_pos) over the batches with a finite value.
    var positivesSum = 0.0
    /// Σ mined negatives.
    var negativesSum = 0
    /// Batches whose loss, classification or localization is not finite.
    var nonfinite = 0
    /// Batches of an earlier epoch that arrived after a later one had started.
    var staleEpochBatches = 0
    /// `loss`.
    var loss = ComponentStatistics()
    /// `classification`.
    var classification = ComponentStatistics()
    /// `localization`.
    var localization = ComponentStatistics()
    /// The latest batches, for `window`.
    var window: BatchWindow
    /// The current epoch, once a record has named one.
    var epoch: Int?
    /// The epoch whose means are the components' `lastEpochMean`.
    var lastEpoch: Int?
    /// The `step` of the latest record that had one.
    var step: Int?
    /// Error records by code.
    var errors: [ErrorCode: Int] = [:]
    /// Error records of every code together.
    var errorTotal = 0
    /// The downsampled history of the curves, for charts.
    var history: HistoryBuffer
    /// When the latest record (loss or error) arrived, in seconds since the Unix epoch.
    var lastRecordTime: Double?
    /// Loss records per second.
    var rate = RateEstimator()
    /// The loss records that carry `step`, `rank` and `world_size`, put together by step.
    var steps = StepTable()
    /// Whether the split is diverging, from its step means and its batches without ranks.
    var divergence = DivergenceDetector()
    /// The loss records' per-batch diagnostics: images without positives, loss per class.
    var diagnostics: DiagnosticStatistics
    /// Non-finite input values by tensor and kind, from the error records.
    var nonfiniteValues = NonfiniteValueCounts()

    /// Empty statistics with a window of `window` batches and a history of at most
    /// `historyPoints` points.
    init(window: Int, historyPoints: Int) {
        self.window = BatchWindow(capacity: window)
        self.history = HistoryBuffer(capacity: historyPoints)
        self.diagnostics = DiagnosticStatistics(window: window)
    }

    /// Aggregates a loss record that arrived at `time`; `runLost` gives the run's lost batches
    /// when a history point is taken.
    mutating func add(_ record: LossRecord, decay: Double, at time: Double, runLost: () -> Int) {
        var inEpoch = true
        if let recordEpoch = record.epoch {
            if let current = epoch {
                if recordEpoch > current {
                    closeEpoch()
                    epoch = recordEpoch
                } else if recordEpoch < current {
                    inEpoch = false
                    staleEpochBatches += 1
                }
            } else {
                epoch = recordEpoch
            }
        }
        let weight = Double(record.shape.batch)
        batches += 1
        samples += record.shape.batch
        if record.positives.isFinite { positivesSum += record.positives }
        negativesSum += record.negatives
        if !(record.loss.isFinite && record.classification.isFinite && record.localization.isFinite) {
            nonfinite += 1
        }
        loss.add(record.loss, weight: weight, decay: decay, inEpoch: inEpoch)
        classification.add(record.classification, weight: weight, decay: decay, inEpoch: inEpoch)
        localization.add(record.localization, weight: weight, decay: decay, inEpoch: inEpoch)
        window.add(
            weight: weight, loss: record.loss, classification: record.classification, localization: record.localization)
        diagnostics.add(record.diagnostics, classes: record.shape.classes, decay: decay)
        if let recordStep = record.step { step = recordStep }
        lastRecordTime = time
        rate.count(at: time)
        let tick = batches - 1
        if history.opens(tick: tick) {
            history.append(liveSample(tick: tick, lost: runLost(), at: time))
        }
        history.widenLast(loss: record.loss, classification: record.classification, localization: record.localization)
    }

    /// Groups a loss record (already aggregated by ``add(_:decay:at:runLost:)``) into its step;
    /// `lost` is the run's lost batches, kept with the step if it closes.
    mutating func groupStep(
        _ record: LossRecord, step: Int, rank: Int, worldSize: Int, at time: Double,
        parameters: AggregationParameters, lost: Int
    ) {
        steps.add(
            record, step: step, rank: rank, worldSize: worldSize, at: time, parameters: parameters, lost: lost,
            errors: errorTotal)
    }

    /// Closes as partial the open steps whose timeout passed by `time`.
    mutating func expireSteps(at time: Double, parameters: AggregationParameters, lost: Int) {
        steps.expire(at: time, parameters: parameters, lost: lost, errors: errorTotal)
    }

    /// Counts an error record that arrived at `time`.
    mutating func add(_ record: WireError, at time: Double) {
        errors[record.code, default: 0] += 1
        errorTotal += 1
        nonfiniteValues.add(record)
        lastRecordTime = time
    }

    private mutating func closeEpoch() {
        lastEpoch = epoch
        loss.closeEpoch()
        classification.closeEpoch()
        localization.closeEpoch()
    }
}

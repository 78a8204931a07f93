/// The downsampled history of one (run, split), for charts: what `GET /` draws and what
/// `lossd report` writes.
public struct HistorySeries: Sendable, Hashable {
    /// The run.
    public var run: String
    /// The split.
    public var split: String
    /// How many ticks (batches for a live history, snapshot lines for one read from a snapshots
    /// file) each stored point stands for.
    public var stride: Int
    /// The points, oldest first: the stored ones, then the live one. At most the history's
    /// capacity (`history_points`).
    public var points: [HistoryPoint]

    /// A series as given.
    public init(run: String, split: String, stride: Int, points: [HistoryPoint]) {
        self.run = run
        self.split = split
        self.stride = stride
        self.points = points
    }
}

extension Aggregation {
    /// The history of every (run, split), sorted by run then split, each ending with its live
    /// point as of `time` (seconds since the Unix epoch).
    public func history(at time: Double) -> [HistorySeries] {
        splits.sorted { $0.key < $1.key }.map { key, statistics in
            HistorySeries(
                run: key.run, split: key.split, stride: statistics.history.stride,
                points: statistics.historyPoints(lost: lostByRun[key.run] ?? 0, at: time))
        }
    }
}

extension SplitStatistics {
    /// The stored points, then the live one: the statistics now, with the current error and lost
    /// counts. When the newest stored point already describes the latest batch, it takes the
    /// current counts instead of a live point being added.
    func historyPoints(lost: Int, at time: Double) -> [HistoryPoint] {
        var points = history.samples.map(\.point)
        guard batches > 0 else { return points }
        if let last = points.last, last.batches == batches {
            points[points.count - 1].errors = errorTotal
            points[points.count - 1].lost = lost
            return points
        }
        points.append(livePoint(lost: lost, at: lastRecordTime ?? time))
        return points
    }

    /// The statistics as they are now, exactly (stored points are rounded to `Float`).
    func livePoint(lost: Int, at time: Double) -> HistoryPoint {
        func values(_ component: ComponentStatistics, _ lane: Int) -> HistoryValues {
            HistoryValues(mean: component.mean, ema: component.ema, window: window.mean(lane))
        }
        return HistoryPoint(
            batches: batches, step: step, time: time, errors: errorTotal, lost: lost,
            loss: values(loss, 0), classification: values(classification, 1), localization: values(localization, 2))
    }

    /// A point holding the statistics as they are now, with an empty envelope.
    func liveSample(tick: Int, lost: Int, at time: Double) -> HistorySample {
        HistorySample(
            tick: tick, batches: batches, step: step, time: time, errors: errorTotal, lost: lost,
            mean: SIMD4(
                HistorySample.lane(loss.mean), HistorySample.lane(classification.mean),
                HistorySample.lane(localization.mean), 0),
            ema: SIMD4(
                HistorySample.lane(loss.ema), HistorySample.lane(classification.ema),
                HistorySample.lane(localization.ema), 0),
            window: SIMD4(
                HistorySample.lane(window.mean(0)), HistorySample.lane(window.mean(1)),
                HistorySample.lane(window.mean(2)), 0))
    }
}

/// Builds the dashboard's panels from a snapshots file (the JSON Lines that `lossd aggregate
/// --snapshots` appends, one `/stats` object per `snapshot_interval`).
///
/// Snapshots carry no history, only each interval's figures, so every line adds one point per
/// (run, split): its `mean`, `ema` and `window`, errors and the run's lost batches, at its batch
/// count. The points are downsampled like the live history (``HistoryBuffer``, one tick per line),
/// so a week of snapshots still makes a chart of at most `capacity` points; there is no per-batch
/// range (the snapshot holds only the latest batch's value).
///
/// A daemon started afresh (a new `start_time`) begins new statistics, so only the lines of the
/// latest `start_time` are used; a restart that loaded its state keeps its `start_time` and
/// continues the same curves.
public struct SnapshotHistoryReader: Sendable {
    /// The most points per series.
    public let capacity: Int
    private var series: [SplitKey: HistoryBuffer] = [:]
    private var latest: [SplitKey: DashboardPanel.Summary] = [:]
    private var tick = 0
    /// The `start_time` of the lines in use.
    public private(set) var startTime: Double?
    /// The `time` of the latest snapshot.
    public private(set) var time: Double?
    /// The `records` count of the latest snapshot.
    public private(set) var records = 0
    /// Snapshot lines used.
    public private(set) var used = 0
    /// Snapshot lines of an earlier `start_time`, dropped.
    public private(set) var superseded = 0
    /// Lines that were not snapshots (blank lines aside).
    public private(set) var skipped = 0
    /// The first line that was not a snapshot, and why (for the message).
    public private(set) var firstProblem: String?

    /// A reader keeping at most `capacity` points per series.
    public init(capacity: Int = AggregationParameters().historyPoints) {
        self.capacity = max(4, capacity)
    }

    /// Adds every line of a snapshots file.
    public mutating func read(_ bytes: [UInt8]) {
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                add(try JSONFiles.decode(AggregatorSnapshot.self, from: Array(line)))
            } catch {
                skipped += 1
                if firstProblem == nil { firstProblem = "line \(lineNumber): \(error)" }
            }
        }
    }

    /// Adds one snapshot.
    mutating func add(_ snapshot: AggregatorSnapshot) {
        if let startTime, snapshot.startTime != startTime {
            // A fresh aggregation: its curves start over.
            superseded += used
            used = 0
            series = [:]
            latest = [:]
            tick = 0
        }
        startTime = snapshot.startTime
        time = snapshot.time
        records = snapshot.records
        var lostByRun: [String: Int] = [:]
        for source in snapshot.sources { lostByRun[source.run, default: 0] += source.lost }
        for split in snapshot.splits {
            let key = SplitKey(run: split.run, split: split.split)
            let summary = DashboardPanel.Summary(split, lost: lostByRun[split.run] ?? 0)
            latest[key] = summary
            guard split.batches > 0 else { continue }
            var buffer = series[key] ?? HistoryBuffer(capacity: capacity)
            if let last = buffer.samples.last, last.batches == split.batches {
                // No new batch since the last snapshot: only the counters moved.
                buffer.updateLast(errors: summary.errorCount, lost: summary.lost)
            } else if buffer.opens(tick: tick) {
                buffer.append(
                    HistorySample(
                        tick: tick, batches: split.batches, step: summary.step,
                        time: summary.lastRecordTime ?? snapshot.time,
                        errors: summary.errorCount, lost: summary.lost,
                        mean: Self.lanes(summary, \.mean), ema: Self.lanes(summary, \.ema),
                        window: Self.lanes(summary, \.window)))
            }
            series[key] = buffer
        }
        tick += 1
        used += 1
    }

    /// The panels, sorted by run then split; each series ends with the latest snapshot's figures.
    public var panels: [DashboardPanel] {
        latest.keys.sorted().compactMap { key in
            guard let summary = latest[key] else { return nil }
            var points = (series[key]?.samples ?? []).map(\.point)
            let live = HistoryPoint(
                batches: summary.batches, step: summary.step, time: summary.lastRecordTime ?? time ?? 0,
                errors: summary.errorCount, lost: summary.lost,
                loss: Self.values(summary.loss), classification: Self.values(summary.classification),
                localization: Self.values(summary.localization))
            if let last = points.last, last.batches == summary.batches {
                points[points.count - 1].errors = live.errors
                points[points.count - 1].lost = live.lost
            } else if summary.batches > 0 {
                points.append(live)
            }
            return DashboardPanel(run: key.run, split: key.split, points: points, summary: summary)
        }
    }

    private static func values(_ component: ComponentSnapshot) -> HistoryValues {
        HistoryValues(mean: component.mean, ema: component.ema, window: component.window)
    }

    private static func lanes(
        _ summary: DashboardPanel.Summary, _ statistic: KeyPath<ComponentSnapshot, Double?>
    ) -> SIMD4<Float> {
        SIMD4(
            HistorySample.lane(summary.loss[keyPath: statistic]),
            HistorySample.lane(summary.classification[keyPath: statistic]),
            HistorySample.lane(summary.localization[keyPath: statistic]), 0)
    }
}

public import LossWire

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
                let value = try JSONValue(parsing: Array(line))
                try add(value)
            } catch {
                skipped += 1
                if firstProblem == nil { firstProblem = "line \(lineNumber): \(error)" }
            }
        }
    }

    /// Why a line is not a snapshot.
    struct NotASnapshot: Error, CustomStringConvertible {
        var description: String
    }

    /// Adds one parsed snapshot.
    mutating func add(_ value: JSONValue) throws {
        guard case .object(let root) = value, root["kind"]?.stringValue == "stats" else {
            throw NotASnapshot(description: "not a {\"kind\":\"stats\",…} object")
        }
        guard let snapshotTime = root["time"]?.doubleValue, let start = root["start_time"]?.doubleValue,
              case .array(let splits)? = root["splits"]
        else {
            throw NotASnapshot(description: "a stats object without time, start_time or splits")
        }
        if let startTime, start != startTime {
            // A fresh aggregation: its curves start over.
            superseded += used
            used = 0
            series = [:]
            latest = [:]
            tick = 0
        }
        startTime = start
        time = snapshotTime
        records = root["records"]?.intValue ?? records
        var lostByRun: [String: Int] = [:]
        if case .array(let sources)? = root["sources"] {
            for case .object(let source) in sources {
                if let run = source["run"]?.stringValue, let lost = source["lost"]?.intValue {
                    lostByRun[run, default: 0] += lost
                }
            }
        }
        for case .object(let split) in splits {
            guard let run = split["run"]?.stringValue, let name = split["split"]?.stringValue,
                  let batches = split["batches"]?.intValue
            else { continue }
            let key = SplitKey(run: run, split: name)
            let summary = Self.summary(split, batches: batches, lost: lostByRun[run] ?? 0)
            latest[key] = summary
            guard batches > 0 else { continue }
            var buffer = series[key] ?? HistoryBuffer(capacity: capacity)
            if let last = buffer.samples.last, last.batches == batches {
                // No new batch since the last snapshot: only the counters moved.
                buffer.updateLast(errors: summary.errorCount, lost: summary.lost)
            } else if buffer.opens(tick: tick) {
                buffer.append(HistorySample(
                    tick: tick, batches: batches, step: summary.step, time: summary.lastRecordTime ?? snapshotTime,
                    errors: summary.errorCount, lost: summary.lost,
                    mean: Self.lanes(summary, \.mean), ema: Self.lanes(summary, \.ema), window: Self.lanes(summary, \.window)))
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

    private static func lanes(_ summary: DashboardPanel.Summary, _ statistic: KeyPath<ComponentSnapshot, Double?>) -> SIMD4<Float> {
        SIMD4(
            HistorySample.lane(summary.loss[keyPath: statistic]), HistorySample.lane(summary.classification[keyPath: statistic]),
            HistorySample.lane(summary.localization[keyPath: statistic]), 0)
    }

    /// The figures of one `splits[]` entry of a snapshot.
    private static func summary(_ split: [String: JSONValue], batches: Int, lost: Int) -> DashboardPanel.Summary {
        func component(_ name: String) -> ComponentSnapshot {
            guard case .object(let figures)? = split[name] else { return ComponentSnapshot() }
            return ComponentSnapshot(
                mean: figures["mean"]?.doubleValue, ema: figures["ema"]?.doubleValue, window: figures["window"]?.doubleValue,
                last: figures["last"]?.doubleValue, min: figures["min"]?.doubleValue, max: figures["max"]?.doubleValue,
                epochMean: figures["epoch_mean"]?.doubleValue, lastEpochMean: figures["last_epoch_mean"]?.doubleValue)
        }
        var errors: [(code: String, count: Int)] = []
        if case .object(let codes)? = split["errors"] {
            errors = codes.compactMap { code, count in count.intValue.map { (code, $0) } }.sorted { $0.code < $1.code }
        }
        return DashboardPanel.Summary(
            batches: batches, samples: split["samples"]?.intValue, epoch: split["epoch"]?.intValue,
            step: split["step"]?.intValue, batchesPerSecond: split["batches_per_s"]?.doubleValue,
            lastRecordTime: split["last_record_time"]?.doubleValue,
            loss: component("loss"), classification: component("classification"), localization: component("localization"),
            errors: errors, nonfinite: split["nonfinite"]?.intValue ?? 0, lost: lost)
    }
}

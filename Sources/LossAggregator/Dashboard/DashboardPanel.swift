/// Everything one (run, split) panel of the dashboard shows: its history and its current figures.
public struct DashboardPanel: Sendable {
    /// The run (user input: escaped when rendered).
    public var run: String
    /// The split (user input: escaped when rendered).
    public var split: String
    /// The downsampled history, oldest first, ending with the live point.
    public var points: [HistoryPoint]
    /// The steps kept (by step number, oldest first), when the records carry ranks; empty otherwise.
    public var steps: [StepSnapshot]
    /// The figures as of the page's time.
    public var summary: Summary

    /// The current figures of a (run, split).
    public struct Summary: Sendable {
        /// Loss records aggregated.
        public var batches: Int
        /// Images in them.
        public var samples: Int?
        /// The current epoch.
        public var epoch: Int?
        /// The latest step.
        public var step: Int?
        /// Loss records per second, about the last 10 s (nil when unknown, as in a state file).
        public var batchesPerSecond: Double?
        /// When the latest record arrived, seconds since the Unix epoch.
        public var lastRecordTime: Double?
        /// The `loss` statistics.
        public var loss: ComponentSnapshot
        /// The `classification` statistics.
        public var classification: ComponentSnapshot
        /// The `localization` statistics.
        public var localization: ComponentSnapshot
        /// Error records by code, sorted by code.
        public var errors: [(code: String, count: Int)]
        /// Batches with a NaN or infinite loss component.
        public var nonfinite: Int
        /// Batches of the run counted lost (all its sources).
        public var lost: Int
        /// The complete step with the highest step number, when the records carry ranks.
        public var lastCompleteStep: StepSnapshot?
        /// Steps closed with ranks missing.
        public var partialSteps: Int
        /// The per-batch diagnostics with the loss per class (empty for records without them).
        public var diagnostics: DiagnosticSnapshot

        /// Figures as given.
        public init(
            batches: Int, samples: Int?, epoch: Int?, step: Int?, batchesPerSecond: Double?, lastRecordTime: Double?,
            loss: ComponentSnapshot, classification: ComponentSnapshot, localization: ComponentSnapshot,
            errors: [(code: String, count: Int)], nonfinite: Int, lost: Int, lastCompleteStep: StepSnapshot? = nil,
            partialSteps: Int = 0, diagnostics: DiagnosticSnapshot = DiagnosticSnapshot()
        ) {
            self.batches = batches
            self.samples = samples
            self.epoch = epoch
            self.step = step
            self.batchesPerSecond = batchesPerSecond
            self.lastRecordTime = lastRecordTime
            self.loss = loss
            self.classification = classification
            self.localization = localization
            self.errors = errors
            self.nonfinite = nonfinite
            self.lost = lost
            self.lastCompleteStep = lastCompleteStep
            self.partialSteps = partialSteps
            self.diagnostics = diagnostics
        }

        /// The figures of a snapshot's (run, split), with the run's lost batches.
        public init(_ split: SplitSnapshot, lost: Int, rates: Bool = true) {
            self.init(
                batches: split.batches, samples: split.samples, epoch: split.epoch, step: split.step,
                batchesPerSecond: rates ? split.batchesPerSecond : nil, lastRecordTime: split.lastRecordTime,
                loss: split.loss, classification: split.classification, localization: split.localization,
                errors: split.errors.map { ($0.code.rawValue, $0.count) }, nonfinite: split.nonfinite, lost: lost,
                lastCompleteStep: split.lastCompleteStep, partialSteps: split.stepCounts.partial,
                diagnostics: split.diagnostics)
        }

        /// Error records of every code together.
        public var errorCount: Int { errors.reduce(0) { $0 + $1.count } }
    }

    /// A panel as given.
    public init(run: String, split: String, points: [HistoryPoint], steps: [StepSnapshot] = [], summary: Summary) {
        self.run = run
        self.split = split
        self.points = points
        self.steps = steps
        self.summary = summary
    }

    /// One panel per (run, split) of an aggregation, as of `time`: its history and snapshot.
    ///
    /// - Parameter rates: whether the rates mean anything (false for a state loaded from a file,
    ///   whose rates are not saved).
    public static func panels(of aggregation: Aggregation, at time: Double, rates: Bool = true) -> [DashboardPanel] {
        let snapshot = aggregation.snapshot(at: time, steps: aggregation.parameters.stepHistory)
        var lostByRun: [String: Int] = [:]
        for source in snapshot.sources { lostByRun[source.run, default: 0] += source.lost }
        let history = aggregation.history(at: time)
        return zip(snapshot.splits, history).map { split, series in
            DashboardPanel(
                run: split.run, split: split.split, points: series.points, steps: split.steps,
                summary: Summary(split, lost: lostByRun[split.run] ?? 0, rates: rates))
        }
    }

    /// The charts: the loss with its EMA, window and per-batch range; classification against
    /// localization; error records and lost batches; and, when the records carry ranks, the loss
    /// per step across ranks.
    public var charts: [SVGChart] {
        batchCharts + (stepChart.map { [$0] } ?? [])
    }

    /// The loss of each closed step against its step number (not arrival order): pooled, mean and
    /// the EMA of pooled. A partial step has no point, so it shows as a gap.
    public var stepChart: SVGChart? {
        let closed = steps.filter { $0.status != .open }
        guard !closed.isEmpty else { return nil }
        let x = closed.map { Double($0.step) }
        func line(
            _ name: String, _ color: SVGChart.Color, _ stroke: SVGChart.Stroke, _ value: (StepSnapshot) -> Double?
        ) -> SVGChart.Line {
            SVGChart.Line(
                name: name, color: color, stroke: stroke,
                points: zip(x, closed).map { ($0, $1.status == .complete ? value($1) : nil) })
        }
        let partial = closed.count { $0.status == .partial }
        let range = "steps \(closed[0].step)–\(closed[closed.count - 1].step)"
        return SVGChart(
            title: "Loss per step, all ranks", xLabel: partial > 0 ? "\(range), \(partial) partial (gaps)" : range,
            yLabel: "loss",
            lines: [
                line("mean of ranks", .window, .dashed) { $0.mean.loss },
                line("pooled EMA", .mean, .thin) { $0.ema.loss },
                line("pooled", .ema, .bold) { $0.pooled.loss },
            ])
    }

    /// The three charts over the split's batches.
    private var batchCharts: [SVGChart] {
        let x = points.map { Double($0.batches) }
        func line(
            _ name: String, _ color: SVGChart.Color, _ stroke: SVGChart.Stroke, _ value: (HistoryPoint) -> Double?
        ) -> SVGChart.Line {
            SVGChart.Line(name: name, color: color, stroke: stroke, points: zip(x, points).map { ($0, value($1)) })
        }
        let xLabel = Self.xLabel(points)
        let loss = SVGChart(
            title: "Loss", xLabel: xLabel, yLabel: "loss",
            lines: [
                line("mean", .mean, .thin) { $0.loss.mean },
                line("window", .window, .dashed) { $0.loss.window },
                line("EMA", .ema, .bold) { $0.loss.ema },
            ],
            bands: [
                SVGChart.Band(
                    name: "batch range", color: .ema, points: zip(x, points).map { ($0, $1.loss.low, $1.loss.high) })
            ])
        let components = SVGChart(
            title: "Classification and localization", xLabel: xLabel, yLabel: "loss",
            lines: [
                line("classification window", .classification, .dashed) { $0.classification.window },
                line("classification EMA", .classification, .bold) { $0.classification.ema },
                line("localization window", .localization, .dashed) { $0.localization.window },
                line("localization EMA", .localization, .bold) { $0.localization.ema },
            ])
        let problems = SVGChart(
            title: "Errors and lost batches", xLabel: xLabel, yLabel: "count (total)",
            lines: [
                line("error records", .errors, .steps) { Double($0.errors) },
                line("lost batches (run)", .lost, .steps) { Double($0.lost) },
            ],
            counts: true)
        return [loss, components, problems]
    }

    /// "batches", with the range of steps when the records carry them.
    static func xLabel(_ points: [HistoryPoint]) -> String {
        let steps = points.compactMap(\.step)
        guard let first = steps.first, let last = steps.last else { return "batches" }
        return "batches (steps \(first)–\(last))"
    }
}

/// The settings that shape the statistics an ``Aggregation`` keeps (SPEC §6).
///
/// They are part of the saved state: a daemon restarted with other parameters keeps its totals and
/// continues with the new parameters (the window keeps its newest batches, the EMA its value).
public struct AggregationParameters: Sendable, Hashable {
    /// The EMA decay `d` in `ema_t = d·ema_{t−1} + (1−d)·x_t`, in `0..<1`. Default 0.98.
    public var emaDecay: Double
    /// How many of the latest batches `window` averages over. Default 100.
    public var window: Int
    /// How far below the highest seq of a (run, source) a seq may arrive before it counts as lost.
    /// Default 1024.
    public var reorderWindow: Int
    /// The most (run, split) pairs, and separately (run, source) pairs, kept; records of further
    /// pairs are counted as overflow and not stored. Default 1000.
    public var maxKeys: Int
    /// The most points of each (run, split)'s chart history; a longer run is downsampled to fit
    /// (``HistoryBuffer`` explains how). Default 2000.
    public var historyPoints: Int
    /// Seconds a step waits for its ranks (from its first record) before it is closed as
    /// partial. Default 60.
    public var stepTimeout: Double
    /// The most open steps of one (run, split); when another opens, the oldest is closed as
    /// partial. Default 64.
    public var openSteps: Int
    /// The most steps of one (run, split) kept with their ranks' records (for `/stats`, the chart
    /// over steps, and replacing a rank's records after a resume). Default 1000.
    public var stepHistory: Int
    /// What a resume from a checkpoint does to the steps already recorded. Default `replace`.
    public var resume: ResumePolicy
    /// Seconds after which a stream that sent nothing is retired (its gaps counted lost, its
    /// counts kept with its (run, source)). Default 3600.
    public var streamIdle: Double
    /// The most streams tracked at once; when another starts, the one idle longest is retired.
    /// Default 4096.
    public var maxStreams: Int
    /// When a (run, split) counts as diverging: `divergence_factor` and `divergence_steps`
    /// (``DivergenceRule``). Default 10 and 3.
    public var divergence: DivergenceRule

    /// The largest `reorderWindow` accepted: it bounds the memory of each (run, source).
    public static let maxReorderWindow = 65_536

    /// The fewest and the most `historyPoints` accepted.
    public static let historyPointsRange = 16...100_000

    /// The `stepTimeout` accepted, in seconds.
    public static let stepTimeoutRange = 0.1...86_400.0
    /// The `openSteps` accepted.
    public static let openStepsRange = 1...100_000
    /// The `stepHistory` accepted (at least every open step must fit).
    public static let stepHistoryRange = 1...1_000_000
    /// The `streamIdle` accepted, in seconds.
    public static let streamIdleRange = 1.0...31_536_000.0
    /// The `maxStreams` accepted.
    public static let maxStreamsRange = 1...1_000_000

    /// The defaults of SPEC §6, 2000 history points, and the step, stream and divergence defaults above.
    public init(
        emaDecay: Double = 0.98, window: Int = 100, reorderWindow: Int = 1024, maxKeys: Int = 1000,
        historyPoints: Int = 2000, stepTimeout: Double = 60, openSteps: Int = 64, stepHistory: Int = 1000,
        resume: ResumePolicy = .replace, streamIdle: Double = 3600, maxStreams: Int = 4096,
        divergence: DivergenceRule = DivergenceRule()
    ) {
        self.emaDecay = emaDecay
        self.window = window
        self.reorderWindow = reorderWindow
        self.maxKeys = maxKeys
        self.historyPoints = historyPoints
        self.stepTimeout = stepTimeout
        self.openSteps = openSteps
        self.stepHistory = stepHistory
        self.resume = resume
        self.streamIdle = streamIdle
        self.maxStreams = maxStreams
        self.divergence = divergence
    }
}

/// The settings as the `parameters` object of `/stats`, snapshots and the state file. `history_points`
/// is not written (a state keeps the points it has); a key that is absent reads as its default.
extension AggregationParameters: Codable {
    enum CodingKeys: String, CodingKey {
        case emaDecay = "ema_decay", window, reorderWindow = "reorder_window", maxKeys = "max_keys"
        case stepTimeout = "step_timeout", openSteps = "open_steps", stepHistory = "step_history", resume
        case streamIdle = "stream_idle", maxStreams = "max_streams"
        case divergenceFactor = "divergence_factor", divergenceSteps = "divergence_steps"
    }

    /// Reads the settings; an absent key takes its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = AggregationParameters()
        self.init(
            emaDecay: try container.decodeIfPresent(Double.self, forKey: .emaDecay) ?? defaults.emaDecay,
            window: try container.decodeIfPresent(Int.self, forKey: .window) ?? defaults.window,
            reorderWindow: try container.decodeIfPresent(Int.self, forKey: .reorderWindow) ?? defaults.reorderWindow,
            maxKeys: try container.decodeIfPresent(Int.self, forKey: .maxKeys) ?? defaults.maxKeys,
            stepTimeout: try container.decodeIfPresent(Double.self, forKey: .stepTimeout) ?? defaults.stepTimeout,
            openSteps: try container.decodeIfPresent(Int.self, forKey: .openSteps) ?? defaults.openSteps,
            stepHistory: try container.decodeIfPresent(Int.self, forKey: .stepHistory) ?? defaults.stepHistory,
            resume: try container.decodeIfPresent(ResumePolicy.self, forKey: .resume) ?? defaults.resume,
            streamIdle: try container.decodeIfPresent(Double.self, forKey: .streamIdle) ?? defaults.streamIdle,
            maxStreams: try container.decodeIfPresent(Int.self, forKey: .maxStreams) ?? defaults.maxStreams,
            divergence: DivergenceRule(
                factor: try container.decodeIfPresent(Double.self, forKey: .divergenceFactor)
                    ?? defaults.divergence.factor,
                steps: try container.decodeIfPresent(Int.self, forKey: .divergenceSteps) ?? defaults.divergence.steps))
    }

    /// Writes the settings (all but `history_points`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: emaDecay, forKey: .emaDecay)
        try container.encode(window, forKey: .window)
        try container.encode(reorderWindow, forKey: .reorderWindow)
        try container.encode(maxKeys, forKey: .maxKeys)
        try container.encode(finite: stepTimeout, forKey: .stepTimeout)
        try container.encode(openSteps, forKey: .openSteps)
        try container.encode(stepHistory, forKey: .stepHistory)
        try container.encode(resume, forKey: .resume)
        try container.encode(finite: streamIdle, forKey: .streamIdle)
        try container.encode(maxStreams, forKey: .maxStreams)
        try container.encode(finite: divergence.factor, forKey: .divergenceFactor)
        try container.encode(divergence.steps, forKey: .divergenceSteps)
    }
}

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

    /// The largest `reorderWindow` accepted: it bounds the memory of each (run, source).
    public static let maxReorderWindow = 65_536

    /// The fewest and the most `historyPoints` accepted.
    public static let historyPointsRange = 16...100_000

    /// The defaults of SPEC §6, and 2000 history points.
    public init(
        emaDecay: Double = 0.98, window: Int = 100, reorderWindow: Int = 1024, maxKeys: Int = 1000,
        historyPoints: Int = 2000
    ) {
        self.emaDecay = emaDecay
        self.window = window
        self.reorderWindow = reorderWindow
        self.maxKeys = maxKeys
        self.historyPoints = historyPoints
    }
}

/// The settings as the `parameters` object of `/stats`, snapshots and the state file. `history_points`
/// is not written (a state keeps the points it has); a key that is absent reads as its default.
extension AggregationParameters: Codable {
    enum CodingKeys: String, CodingKey {
        case emaDecay = "ema_decay", window, reorderWindow = "reorder_window", maxKeys = "max_keys"
    }

    /// Reads the settings; an absent key takes its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = AggregationParameters()
        self.init(
            emaDecay: try container.decodeIfPresent(Double.self, forKey: .emaDecay) ?? defaults.emaDecay,
            window: try container.decodeIfPresent(Int.self, forKey: .window) ?? defaults.window,
            reorderWindow: try container.decodeIfPresent(Int.self, forKey: .reorderWindow) ?? defaults.reorderWindow,
            maxKeys: try container.decodeIfPresent(Int.self, forKey: .maxKeys) ?? defaults.maxKeys)
    }

    /// Writes the four settings.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: emaDecay, forKey: .emaDecay)
        try container.encode(window, forKey: .window)
        try container.encode(reorderWindow, forKey: .reorderWindow)
        try container.encode(maxKeys, forKey: .maxKeys)
    }
}

/// The JSON of a split's diagnostics in a snapshot (`/stats`, the snapshots file, the `stats`
/// topic; docs/OPERATIONS.md). ``SplitSnapshot`` writes three keys:
///
/// ```json
/// "diagnostics": {"batches": 40, "images_without_positives": 3, "last_max_positive_share": 0.42,
///                 "window_batches": 40, "window_images_without_positives": 3,
///                 "window_max_positive_share": 0.61, "dropped_classes": 0},
/// "classes": {"7": {"batches": 12, "positives": 96.0, "mean": 0.41, "ema": 0.39, "window": 0.41,
///                   "window_positives": 96.0, "last": 0.35}, …},
/// "nonfinite_values": {"y_true": {"gt_offset": 1}, "y_pred": {"class_score": 1}}
/// ```
///
/// Reading is lenient: a snapshot of a lossd without diagnostics reads as none.
extension DiagnosticSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case batches, imagesWithoutPositives = "images_without_positives"
        case lastMaxPositiveShare = "last_max_positive_share", windowBatches = "window_batches"
        case windowImagesWithoutPositives = "window_images_without_positives"
        case windowMaxPositiveShare = "window_max_positive_share", droppedClasses = "dropped_classes"
    }

    /// Reads the figures without the classes (they are a key of their own in a split).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            batches: try container.decodeIfPresent(Int.self, forKey: .batches) ?? 0,
            imagesWithoutPositives: try container.decodeIfPresent(Int.self, forKey: .imagesWithoutPositives) ?? 0,
            lastMaxPositiveShare: try container.decodeIfPresent(Double.self, forKey: .lastMaxPositiveShare),
            windowBatches: try container.decodeIfPresent(Int.self, forKey: .windowBatches) ?? 0,
            windowImagesWithoutPositives: try container.decodeIfPresent(
                Int.self, forKey: .windowImagesWithoutPositives) ?? 0,
            windowMaxPositiveShare: try container.decodeIfPresent(Double.self, forKey: .windowMaxPositiveShare),
            droppedClasses: try container.decodeIfPresent(Int.self, forKey: .droppedClasses) ?? 0)
    }

    /// Writes the figures without the classes, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batches, forKey: .batches)
        try container.encode(imagesWithoutPositives, forKey: .imagesWithoutPositives)
        try container.encode(finite: lastMaxPositiveShare, forKey: .lastMaxPositiveShare)
        try container.encode(windowBatches, forKey: .windowBatches)
        try container.encode(windowImagesWithoutPositives, forKey: .windowImagesWithoutPositives)
        try container.encode(finite: windowMaxPositiveShare, forKey: .windowMaxPositiveShare)
        try container.encode(droppedClasses, forKey: .droppedClasses)
    }

    /// The classes as a JSON object keyed by class index.
    var classesByIndex: [String: ClassSnapshot] {
        Dictionary(uniqueKeysWithValues: classes.map { (String($0.classIndex), $0) })
    }

    /// The classes of a JSON object keyed by class index, ascending; keys that are not an index
    /// are left out.
    static func classes(byIndex object: [String: ClassSnapshot]) -> [ClassSnapshot] {
        object.compactMap { key, value in
            Int(key).map { index in
                var figures = value
                figures.classIndex = index
                return figures
            }
        }.sorted { $0.classIndex < $1.classIndex }
    }
}

/// One class in a snapshot's `classes` object; its index is the key.
extension ClassSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case batches, positives, mean, ema, window, windowPositives = "window_positives", last
    }

    /// Reads one class; its index is set by the reader of the enclosing object (0 until then).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            classIndex: 0, batches: try container.decodeIfPresent(Int.self, forKey: .batches) ?? 0,
            positives: try container.decodeIfPresent(Double.self, forKey: .positives) ?? 0,
            mean: try container.decodeIfPresent(Double.self, forKey: .mean),
            ema: try container.decodeIfPresent(Double.self, forKey: .ema),
            window: try container.decodeIfPresent(Double.self, forKey: .window),
            windowPositives: try container.decodeIfPresent(Double.self, forKey: .windowPositives) ?? 0,
            last: try container.decodeIfPresent(Double.self, forKey: .last))
    }

    /// Writes one class without its index, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batches, forKey: .batches)
        try container.encode(finite: positives, forKey: .positives)
        try container.encode(finite: mean, forKey: .mean)
        try container.encode(finite: ema, forKey: .ema)
        try container.encode(finite: window, forKey: .window)
        try container.encode(finite: windowPositives, forKey: .windowPositives)
        try container.encode(finite: last, forKey: .last)
    }
}

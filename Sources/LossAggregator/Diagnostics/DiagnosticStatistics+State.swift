import SSDLoss

/// The saved form of a split's diagnostics in the state file, so that a restart keeps the
/// per-class figures and the window:
///
/// ```json
/// "diagnostics": {"batches": 40, "images_without_positives": 3, "last_max_positive_share": 0.42,
///                 "dropped_classes": 0,
///                 "classes": [{"class": 7, "batches": 12, "loss": {"weighted_sum": 39.4, …}}, …],
///                 "window": [null, [1, 0.42, [[7, 8.0, 2.8], …]], …]}
/// ```
///
/// A class keeps its loss per positive as the components do (``ComponentStatistics``); a window
/// entry is `null` for a batch without diagnostics, else `[images_without_positives,
/// max_positive_share, [[class, positives, classification_sum], …]]`. Numbers that may not be
/// finite are kept as `"NaN"`, `"Infinity"` or `"-Infinity"`. A state saved before diagnostics
/// has no `diagnostics` key and restores empty figures.
extension DiagnosticStatistics: Codable {
    enum CodingKeys: String, CodingKey {
        case batches, imagesWithoutPositives = "images_without_positives"
        case lastMaxPositiveShare = "last_max_positive_share", droppedClasses = "dropped_classes", classes, window
    }

    /// Restores the diagnostics with the window they were saved with; ``resized(window:)`` goes on
    /// with another size.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let entries = try container.decode([SavedWindowEntry].self, forKey: .window).map(\.entry)
        self.init(window: max(1, entries.count))
        window = DiagnosticWindow(capacity: max(1, entries.count), entries: entries)
        batches = try container.decode(Int.self, forKey: .batches)
        imagesWithoutPositives = try container.decode(Int.self, forKey: .imagesWithoutPositives)
        lastMaxPositiveShare = try container.decodeExactIfPresent(forKey: .lastMaxPositiveShare)
        droppedClasses = try container.decode(Int.self, forKey: .droppedClasses)
        for saved in try container.decode([SavedClass].self, forKey: .classes).prefix(Self.maxClasses) {
            classes[saved.index] = saved.statistics
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batches, forKey: .batches)
        try container.encode(imagesWithoutPositives, forKey: .imagesWithoutPositives)
        if let lastMaxPositiveShare {
            try container.encode(exact: lastMaxPositiveShare, forKey: .lastMaxPositiveShare)
        } else {
            try container.encodeNil(forKey: .lastMaxPositiveShare)
        }
        try container.encode(droppedClasses, forKey: .droppedClasses)
        try container.encode(
            classes.ordered.map { SavedClass(index: $0.index, statistics: $0.statistics) },
            forKey: .classes)
        try container.encode(window.orderedEntries.map(SavedWindowEntry.init), forKey: .window)
    }

    /// The same figures with a window of `capacity` batches (the newest kept), aligned with the
    /// split's ``BatchWindow`` of `batches` entries: a state saved before diagnostics has none, so
    /// the window is padded with entries of batches without diagnostics.
    func resized(window capacity: Int, alignedTo batchCount: Int) -> DiagnosticStatistics {
        var entries = window.orderedEntries
        if entries.count < batchCount {
            entries.insert(
                contentsOf: repeatElement(DiagnosticWindow.Entry.absent, count: batchCount - entries.count), at: 0)
        }
        var resized = self
        resized.window = DiagnosticWindow(capacity: capacity, entries: entries)
        return resized
    }
}

/// One class of the state file: its index, the batches in which it appeared, and its loss per
/// positive as a component (`{"class": 7, "batches": 12, "loss": {"weighted_sum": …, …}}`).
private struct SavedClass: Codable {
    var index: Int
    var statistics: ClassStatistics

    enum CodingKeys: String, CodingKey {
        case index = "class", batches, loss
    }

    init(index: Int, statistics: ClassStatistics) {
        self.index = index
        self.statistics = statistics
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        guard index >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .index, in: container, debugDescription: "class \(index)")
        }
        statistics = ClassStatistics(
            loss: try container.decode(ComponentStatistics.self, forKey: .loss),
            batches: try container.decode(Int.self, forKey: .batches))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(statistics.batches, forKey: .batches)
        try container.encode(statistics.loss, forKey: .loss)
    }
}

/// One window entry of the state file: `null`, or `[images_without_positives,
/// max_positive_share, [[class, positives, classification_sum], …]]`.
private struct SavedWindowEntry: Codable {
    var entry: DiagnosticWindow.Entry

    init(_ entry: DiagnosticWindow.Entry) {
        self.entry = entry
    }

    init(from decoder: any Decoder) throws {
        if try decoder.singleValueContainer().decodeNil() {
            entry = .absent
            return
        }
        var container = try decoder.unkeyedContainer()
        let images = try container.decode(Int.self)
        let share = try container.decodeExact()
        var classes: [BatchDiagnostics.ClassFigures] = []
        var list = try container.nestedUnkeyedContainer()
        while !list.isAtEnd {
            var figures = try list.nestedUnkeyedContainer()
            classes.append(
                BatchDiagnostics.ClassFigures(
                    classIndex: try figures.decode(Int.self), positives: try figures.decode(Double.self),
                    classificationSum: try figures.decodeExact()))
        }
        entry = DiagnosticWindow.Entry(
            present: true, imagesWithoutPositives: images, maxPositiveShare: share, classes: classes)
    }

    func encode(to encoder: any Encoder) throws {
        guard entry.present else {
            var single = encoder.singleValueContainer()
            try single.encodeNil()
            return
        }
        var container = encoder.unkeyedContainer()
        try container.encode(entry.imagesWithoutPositives)
        try container.encode(exact: entry.maxPositiveShare)
        var list = container.nestedUnkeyedContainer()
        for figures in entry.classes {
            var triple = list.nestedUnkeyedContainer()
            try triple.encode(figures.classIndex)
            try triple.encode(finite: figures.positives)
            try triple.encode(exact: figures.classificationSum)
        }
    }
}

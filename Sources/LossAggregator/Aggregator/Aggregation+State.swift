import LossWire

/// The saved form of an ``Aggregation`` (the state file): one JSON object holding every running
/// sum, the window's batches and each (run, source)'s seq marks, so a restarted daemon continues
/// exactly where the saved one stopped. Rates are not saved; they start again after a restart.
///
/// ```json
/// {"kind": "lossd-aggregate-state", "v": 1, "saved_at": …, "start_time": …, "parameters": {…},
///  "records": …, "invalid": …, "overflow": …, "splits": [{"run": …, "split": …, …}, …],
///  "sources": [{"run": …, "source": …, "highest": …, "pending": […], "lost_seqs": […], …}, …]}
/// ```
extension Aggregation {
    /// The `kind` of a state file.
    static let stateKind = "lossd-aggregate-state"

    /// The state as JSON text, stamped with `savedAt` (seconds since the Unix epoch).
    public func stateJSON(savedAt: Double) -> [UInt8] {
        JSONFiles.line(SavedState(aggregation: self, savedAt: savedAt))
    }

    /// Restores a saved state, continuing with `parameters` (which may differ from the saved ones:
    /// the window keeps its newest batches, the seq marks are re-laid for the new reorder window).
    /// Keys beyond `parameters.maxKeys` are dropped.
    ///
    /// - Throws: ``AggregatorStateError/damaged(reason:)`` when the text is not a complete state.
    public init(stateJSON bytes: [UInt8], parameters: AggregationParameters) throws(AggregatorStateError) {
        let saved: SavedState
        do {
            let kind = try JSONFiles.decode(StateKind.self, from: bytes)
            guard kind.kind == Self.stateKind else {
                throw AggregatorStateError.damaged(
                    reason: "it is not a lossd aggregate state (its \"kind\" is not \"\(Self.stateKind)\")")
            }
            guard kind.v == 1 else {
                throw AggregatorStateError.damaged(reason: "its version \(kind.v.map(String.init) ?? "null") is not 1")
            }
            saved = try JSONFiles.decode(SavedState.self, from: bytes)
        } catch let error as AggregatorStateError {
            throw error
        } catch {
            throw .damaged(reason: "\(error)")
        }
        self.init(parameters: parameters, startTime: saved.startTime)
        records = saved.records
        invalid = saved.invalid
        overflow = saved.overflow
        for split in saved.splits where splits.count < parameters.maxKeys {
            var statistics = split.statistics
            statistics.resize(window: parameters.window, historyPoints: parameters.historyPoints)
            splits[split.key] = statistics
        }
        for source in saved.sources where sources[source.key] != nil || sources.count < parameters.maxKeys {
            let stream = source.stream ?? ""
            sources[source.key, default: SourceAccount()].streams[stream] = SourceAccount.Stream(
                tracker: source.tracker(reorderWindow: parameters.reorderWindow),
                lastSeen: source.lastSeen ?? saved.savedAt)
        }
        for link in saved.links ?? [] {
            links[link.link] = LinkPosition(next: link.next, lastSeen: link.lastSeen ?? saved.savedAt)
        }
        for retired in saved.retired ?? [] where sources[retired.key] != nil || sources.count < parameters.maxKeys {
            sources[retired.key, default: SourceAccount()].retired = retired.counts
        }
        for (key, account) in sources where account.streams[account.latestStream] == nil {
            // A state without the mark (one stream per source then): the stream that sent last.
            let latest = account.streams.max { $0.value.lastSeen < $1.value.lastSeen }?.key ?? ""
            sources[key]?.latestStream = latest
        }
        recountLostByRun()
    }

    /// The state file's `kind` and `v`, read before anything else.
    private struct StateKind: Decodable {
        var kind: String?
        var v: Int?
    }
}

/// The root object of a state file.
private struct SavedState: Codable {
    var savedAt: Double
    var startTime: Double
    var parameters: AggregationParameters
    var records: Int
    var invalid: Int
    var overflow: Int
    var splits: [SavedSplit]
    var sources: [SavedSource]
    /// The counts of retired streams per (run, source); absent in states saved before streams.
    var retired: [SavedRetired]?
    /// Where each record link stands; absent in states saved before the link.
    var links: [SavedLink]?

    enum CodingKeys: String, CodingKey {
        case v, kind, savedAt = "saved_at", startTime = "start_time", parameters, records, invalid, overflow
        case splits, sources, retired = "retired_streams", links
    }

    init(aggregation: Aggregation, savedAt: Double) {
        self.savedAt = savedAt
        startTime = aggregation.startTime
        parameters = aggregation.parameters
        records = aggregation.records
        invalid = aggregation.invalid
        overflow = aggregation.overflow
        splits = aggregation.splits.sorted { $0.key < $1.key }.map { SavedSplit(key: $0.key, statistics: $0.value) }
        sources = aggregation.sources.sorted { $0.key < $1.key }.flatMap { key, account in
            account.streams.sorted { $0.key < $1.key }.map { stream, entry in
                let tracker = entry.tracker
                return SavedSource(
                    run: key.run, source: key.source, stream: stream.isEmpty ? nil : stream,
                    latest: account.streams.count > 1 && stream == account.latestStream ? true : nil,
                    lastSeen: entry.lastSeen,
                    highest: tracker.highest, lost: tracker.lost, duplicates: tracker.duplicates, late: tracker.late,
                    pending: tracker.pending, lostSeqs: tracker.rememberedLost)
            }
        }
        retired = aggregation.sources.sorted { $0.key < $1.key }.compactMap { key, account in
            account.retired.streams > 0 ? SavedRetired(run: key.run, source: key.source, counts: account.retired) : nil
        }
        links = aggregation.links.sorted { $0.key < $1.key }.map {
            SavedLink(link: $0.key, next: $0.value.next, lastSeen: $0.value.lastSeen)
        }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        savedAt = try container.decodeIfPresent(Double.self, forKey: .savedAt) ?? 0
        startTime = try container.decode(Double.self, forKey: .startTime)
        parameters =
            try container.decodeIfPresent(AggregationParameters.self, forKey: .parameters) ?? AggregationParameters()
        records = try container.decode(Int.self, forKey: .records)
        invalid = try container.decode(Int.self, forKey: .invalid)
        overflow = try container.decode(Int.self, forKey: .overflow)
        splits = try container.decode([SavedSplit].self, forKey: .splits)
        sources = try container.decode([SavedSource].self, forKey: .sources)
        retired = try container.decodeIfPresent([SavedRetired].self, forKey: .retired)
        links = try container.decodeIfPresent([SavedLink].self, forKey: .links)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(1, forKey: .v)
        try container.encode(Aggregation.stateKind, forKey: .kind)
        try container.encode(finite: savedAt, forKey: .savedAt)
        try container.encode(finite: startTime, forKey: .startTime)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(records, forKey: .records)
        try container.encode(invalid, forKey: .invalid)
        try container.encode(overflow, forKey: .overflow)
        try container.encode(splits, forKey: .splits)
        try container.encode(sources, forKey: .sources)
        try container.encode(retired ?? [], forKey: .retired)
        try container.encode(links ?? [], forKey: .links)
    }
}

/// One (run, split) of a state file: its key and its statistics in one object.
private struct SavedSplit: Codable {
    var key: SplitKey
    var statistics: SplitStatistics

    enum CodingKeys: String, CodingKey {
        case run, split
    }

    init(key: SplitKey, statistics: SplitStatistics) {
        self.key = key
        self.statistics = statistics
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = SplitKey(
            run: try container.decode(String.self, forKey: .run),
            split: try container.decode(String.self, forKey: .split))
        statistics = try SplitStatistics(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key.run, forKey: .run)
        try container.encode(key.split, forKey: .split)
        try statistics.encode(to: encoder)
    }
}

/// One stream of a (run, source) of a state file: its seq marks as counts and lists. `stream`
/// is absent for records without one (and in every state saved before streams existed).
private struct SavedSource: Codable {
    var run: String
    var source: String
    var stream: String?
    /// True for the stream of the source's latest record, when the source has several.
    var latest: Bool?
    var lastSeen: Double?
    var highest: Int
    var lost: Int
    var duplicates: Int
    var late: Int
    var pending: [Int]
    var lostSeqs: [Int]

    enum CodingKeys: String, CodingKey {
        case run, source, stream, latest, lastSeen = "last_seen", highest, lost, duplicates, late, pending
        case lostSeqs = "lost_seqs"
    }

    var key: SourceKey { SourceKey(run: run, source: source) }

    func tracker(reorderWindow: Int) -> SequenceTracker {
        SequenceTracker(
            reorderWindow: reorderWindow, highest: highest, lost: lost, duplicates: duplicates, late: late,
            pending: pending, rememberedLost: lostSeqs)
    }
}

extension SavedSource {
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        run = try container.decode(String.self, forKey: .run)
        source = try container.decode(String.self, forKey: .source)
        stream = try container.decodeIfPresent(String.self, forKey: .stream)
        latest = try container.decodeIfPresent(Bool.self, forKey: .latest)
        lastSeen = try container.decodeIfPresent(Double.self, forKey: .lastSeen)
        highest = try container.decode(Int.self, forKey: .highest)
        guard highest >= -1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .highest, in: container, debugDescription: "\(highest) is below -1")
        }
        lost = try container.decode(Int.self, forKey: .lost)
        duplicates = try container.decode(Int.self, forKey: .duplicates)
        late = try container.decode(Int.self, forKey: .late)
        pending = try container.decode([Int].self, forKey: .pending)
        lostSeqs = try container.decode([Int].self, forKey: .lostSeqs)
    }
}

/// Where one record link stood: `{"link": …, "next": …, "last_seen": …}`.
private struct SavedLink: Codable {
    var link: String
    var next: UInt64
    var lastSeen: Double?

    enum CodingKeys: String, CodingKey {
        case link, next, lastSeen = "last_seen"
    }
}

/// The counts of the retired streams of one (run, source).
private struct SavedRetired: Codable {
    var run: String
    var source: String
    var counts: SourceAccount.Retired

    enum CodingKeys: String, CodingKey {
        case run, source, streams, lost, duplicates, late
    }

    var key: SourceKey { SourceKey(run: run, source: source) }

    init(run: String, source: String, counts: SourceAccount.Retired) {
        self.run = run
        self.source = source
        self.counts = counts
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        run = try container.decode(String.self, forKey: .run)
        source = try container.decode(String.self, forKey: .source)
        counts = SourceAccount.Retired(
            streams: max(0, try container.decode(Int.self, forKey: .streams)),
            lost: max(0, try container.decode(Int.self, forKey: .lost)),
            duplicates: max(0, try container.decode(Int.self, forKey: .duplicates)),
            late: max(0, try container.decode(Int.self, forKey: .late)))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(run, forKey: .run)
        try container.encode(source, forKey: .source)
        try container.encode(counts.streams, forKey: .streams)
        try container.encode(counts.lost, forKey: .lost)
        try container.encode(counts.duplicates, forKey: .duplicates)
        try container.encode(counts.late, forKey: .late)
    }
}

extension SplitStatistics: Codable {
    enum CodingKeys: String, CodingKey {
        case batches, samples, negativesSum = "negatives_sum", nonfinite, staleEpochBatches = "stale_epoch_batches"
        case positivesSum = "positives_sum", epoch, lastEpoch = "last_epoch", step, lastRecordTime = "last_record_time"
        case errors, components, window, history, steps, divergence, diagnostics
        case nonfiniteValues = "nonfinite_values"
    }

    /// Restores one (run, split) with the window and history it was saved with; call
    /// ``resize(window:historyPoints:)`` to go on with other sizes. A state without `history`
    /// (saved before there was one) starts an empty history.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let entries = try container.decode([BatchWindow.Entry].self, forKey: .window)
        let history = try container.decodeIfPresent(HistoryBuffer.self, forKey: .history)
        self.init(window: max(1, entries.count), historyPoints: history?.capacity ?? 4)
        batches = try container.decode(Int.self, forKey: .batches)
        samples = try container.decode(Int.self, forKey: .samples)
        negativesSum = try container.decode(Int.self, forKey: .negativesSum)
        nonfinite = try container.decode(Int.self, forKey: .nonfinite)
        staleEpochBatches = try container.decode(Int.self, forKey: .staleEpochBatches)
        positivesSum = try container.decode(Double.self, forKey: .positivesSum)
        epoch = try container.decodeIfPresent(Int.self, forKey: .epoch)
        lastEpoch = try container.decodeIfPresent(Int.self, forKey: .lastEpoch)
        step = try container.decodeIfPresent(Int.self, forKey: .step)
        lastRecordTime = try container.decodeIfPresent(Double.self, forKey: .lastRecordTime)
        for (name, count) in try container.decode([String: Int].self, forKey: .errors) {
            guard let code = ErrorCode(rawValue: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .errors, in: container, debugDescription: "an unknown code \"\(name)\"")
            }
            errors[code] = count
            errorTotal += count
        }
        let components = try container.decode([ComponentStatistics].self, forKey: .components)
        guard components.count == 3 else {
            throw DecodingError.dataCorruptedError(
                forKey: .components, in: container, debugDescription: "\(components.count) entries; expected 3")
        }
        (loss, classification, localization) = (components[0], components[1], components[2])
        window = BatchWindow(capacity: max(1, entries.count), entries: entries)
        if let history { self.history = history }
        if let steps = try container.decodeIfPresent(StepTable.self, forKey: .steps) { self.steps = steps }
        if let divergence = try container.decodeIfPresent(DivergenceDetector.self, forKey: .divergence) {
            self.divergence = divergence
        }
        let saved = try container.decodeIfPresent(DiagnosticStatistics.self, forKey: .diagnostics)
        diagnostics = (saved ?? DiagnosticStatistics(window: window.capacity)).resized(
            window: window.capacity, alignedTo: entries.count)
        if let counts = try container.decodeIfPresent([String: [String: Int]].self, forKey: .nonfiniteValues) {
            nonfiniteValues = NonfiniteValueCounts(nested: counts)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(batches, forKey: .batches)
        try container.encode(samples, forKey: .samples)
        try container.encode(negativesSum, forKey: .negativesSum)
        try container.encode(nonfinite, forKey: .nonfinite)
        try container.encode(staleEpochBatches, forKey: .staleEpochBatches)
        try container.encode(finite: positivesSum, forKey: .positivesSum)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(lastEpoch, forKey: .lastEpoch)
        try container.encode(step, forKey: .step)
        try container.encode(finite: lastRecordTime, forKey: .lastRecordTime)
        try container.encode(
            Dictionary(uniqueKeysWithValues: errors.map { ($0.key.rawValue, $0.value) }), forKey: .errors)
        try container.encode([loss, classification, localization], forKey: .components)
        try container.encode(window.orderedEntries, forKey: .window)
        try container.encode(history, forKey: .history)
        if !steps.isEmpty { try container.encode(steps, forKey: .steps) }
        if divergence != DivergenceDetector() { try container.encode(divergence, forKey: .divergence) }
        if !diagnostics.isEmpty { try container.encode(diagnostics, forKey: .diagnostics) }
        if !nonfiniteValues.counts.isEmpty { try container.encode(nonfiniteValues.nested, forKey: .nonfiniteValues) }
    }

    /// Goes on with a window of `window` batches (keeping the newest) and a history of at most
    /// `historyPoints` points (halving the saved points until they fit).
    mutating func resize(window capacity: Int, historyPoints: Int) {
        diagnostics = diagnostics.resized(window: capacity, alignedTo: window.entries.count)
        window = BatchWindow(capacity: capacity, entries: window.orderedEntries)
        history = HistoryBuffer(capacity: historyPoints, stride: history.stride, samples: history.samples)
    }
}

/// A window entry is saved as `[batch, loss, classification, localization]`; a value that is not
/// finite is kept as a string (it weighs nothing in the window's means).
extension BatchWindow.Entry: Codable {
    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        guard container.count == 4 else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected [batch, loss, classification, localization]")
        }
        let weight = try container.decode(Double.self)
        guard weight >= 0 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a batch weight of \(weight)")
        }
        self.init(
            weight: weight,
            values: SIMD4(try container.decodeExact(), try container.decodeExact(), try container.decodeExact(), 0))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(finite: weight)
        for index in 0..<3 { try container.encode(exact: values[index]) }
    }
}

extension ComponentStatistics: Codable {
    enum CodingKeys: String, CodingKey {
        case weightedSum = "weighted_sum", weight, emaRaw = "ema_raw", decayPower = "decay_power"
        case epochSum = "epoch_sum", epochWeight = "epoch_weight", last, min, max, lastEpochMean = "last_epoch_mean"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        weightedSum = try container.decode(Double.self, forKey: .weightedSum)
        weight = try container.decode(Double.self, forKey: .weight)
        emaRaw = try container.decode(Double.self, forKey: .emaRaw)
        decayPower = try container.decode(Double.self, forKey: .decayPower)
        epochSum = try container.decode(Double.self, forKey: .epochSum)
        epochWeight = try container.decode(Double.self, forKey: .epochWeight)
        last = try container.decodeExactIfPresent(forKey: .last)
        minimum = try container.decodeIfPresent(Double.self, forKey: .min)
        maximum = try container.decodeIfPresent(Double.self, forKey: .max)
        lastEpochMean = try container.decodeIfPresent(Double.self, forKey: .lastEpochMean)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: weightedSum, forKey: .weightedSum)
        try container.encode(finite: weight, forKey: .weight)
        try container.encode(finite: emaRaw, forKey: .emaRaw)
        try container.encode(finite: decayPower, forKey: .decayPower)
        try container.encode(finite: epochSum, forKey: .epochSum)
        try container.encode(finite: epochWeight, forKey: .epochWeight)
        if let last { try container.encode(exact: last, forKey: .last) } else { try container.encodeNil(forKey: .last) }
        try container.encode(finite: minimum, forKey: .min)
        try container.encode(finite: maximum, forKey: .max)
        try container.encode(finite: lastEpochMean, forKey: .lastEpochMean)
    }
}

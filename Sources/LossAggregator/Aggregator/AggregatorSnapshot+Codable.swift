import LossWire

/// A snapshot as one JSON object: what `GET /stats` returns, one line of the snapshots file, the
/// payload of the `stats` topic, and what `lossd report` reads back. docs/OPERATIONS.md describes
/// every key.
///
/// Every key is always written; a statistic without a value yet (no batch, an empty epoch, a
/// non-finite last value) is `null`. Reading is lenient where a report can do without a figure:
/// only `kind` (`"stats"`), `time`, `start_time` and `splits` (each with `run`, `split` and
/// `batches`) are required.
extension AggregatorSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case v, kind, time, startTime = "start_time", parameters, records, invalid, overflow
        case recordsPerSecond = "records_per_s", splits, sources
    }

    /// The `kind` of a snapshot.
    static let kind = "stats"

    /// Reads one from JSON; see the type's description for what may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard try container.decodeIfPresent(String.self, forKey: .kind) == Self.kind else {
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container, debugDescription: "not a {\"kind\":\"stats\",…} object")
        }
        time = try container.decode(Double.self, forKey: .time)
        startTime = try container.decode(Double.self, forKey: .startTime)
        parameters =
            try container.decodeIfPresent(AggregationParameters.self, forKey: .parameters) ?? AggregationParameters()
        records = try container.decodeIfPresent(Int.self, forKey: .records) ?? 0
        invalid = try container.decodeIfPresent(Int.self, forKey: .invalid) ?? 0
        overflow = try container.decodeIfPresent(Int.self, forKey: .overflow) ?? 0
        recordsPerSecond = try container.decodeIfPresent(Double.self, forKey: .recordsPerSecond) ?? 0
        splits = try container.decode([SplitSnapshot].self, forKey: .splits)
        sources = try container.decodeIfPresent([SourceSnapshot].self, forKey: .sources) ?? []
    }

    /// Writes it as JSON, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(1, forKey: .v)
        try container.encode(Self.kind, forKey: .kind)
        try container.encode(finite: time, forKey: .time)
        try container.encode(finite: startTime, forKey: .startTime)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(records, forKey: .records)
        try container.encode(invalid, forKey: .invalid)
        try container.encode(overflow, forKey: .overflow)
        try container.encode(finite: recordsPerSecond, forKey: .recordsPerSecond)
        try container.encode(splits, forKey: .splits)
        try container.encode(sources, forKey: .sources)
    }

    /// The snapshot as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        JSONFiles.line(self)
    }
}

extension SplitSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case run, split, batches, samples, batchesPerSecond = "batches_per_s", positivesPerBatch = "positives_per_batch"
        case negativesPerBatch = "negatives_per_batch", nonfinite, staleEpochBatches = "stale_epoch_batches"
        case epoch, lastEpoch = "last_epoch", step, lastRecordTime = "last_record_time", errors
        case loss, classification, localization
        case steps, lastCompleteStep = "last_complete_step", stepCounts = "step_counts", divergence
        case diagnostics, classes, nonfiniteValues = "nonfinite_values"
    }

    /// Reads one from JSON; see the type's description for what may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        run = try container.decode(String.self, forKey: .run)
        split = try container.decode(String.self, forKey: .split)
        batches = try container.decode(Int.self, forKey: .batches)
        samples = try container.decodeIfPresent(Int.self, forKey: .samples) ?? 0
        batchesPerSecond = try container.decodeIfPresent(Double.self, forKey: .batchesPerSecond) ?? 0
        positivesPerBatch = try container.decodeIfPresent(Double.self, forKey: .positivesPerBatch)
        negativesPerBatch = try container.decodeIfPresent(Double.self, forKey: .negativesPerBatch)
        nonfinite = try container.decodeIfPresent(Int.self, forKey: .nonfinite) ?? 0
        staleEpochBatches = try container.decodeIfPresent(Int.self, forKey: .staleEpochBatches) ?? 0
        epoch = try container.decodeIfPresent(Int.self, forKey: .epoch)
        lastEpoch = try container.decodeIfPresent(Int.self, forKey: .lastEpoch)
        step = try container.decodeIfPresent(Int.self, forKey: .step)
        lastRecordTime = try container.decodeIfPresent(Double.self, forKey: .lastRecordTime)
        // Codes this lossd does not know (from a newer one) are left out.
        errors = (try container.decodeIfPresent([String: Int].self, forKey: .errors) ?? [:])
            .compactMap { name, count in ErrorCode(rawValue: name).map { ErrorCount(code: $0, count: count) } }
            .sorted { $0.code.rawValue < $1.code.rawValue }
        loss = try container.decodeIfPresent(ComponentSnapshot.self, forKey: .loss) ?? ComponentSnapshot()
        classification =
            try container.decodeIfPresent(ComponentSnapshot.self, forKey: .classification) ?? ComponentSnapshot()
        localization =
            try container.decodeIfPresent(ComponentSnapshot.self, forKey: .localization) ?? ComponentSnapshot()
        steps = try container.decodeIfPresent([StepSnapshot].self, forKey: .steps) ?? []
        lastCompleteStep = try container.decodeIfPresent(StepSnapshot.self, forKey: .lastCompleteStep)
        stepCounts = try container.decodeIfPresent(StepCounts.self, forKey: .stepCounts) ?? StepCounts()
        divergence = try container.decodeIfPresent(DivergenceStatus.self, forKey: .divergence) ?? DivergenceStatus()
        diagnostics =
            try container.decodeIfPresent(DiagnosticSnapshot.self, forKey: .diagnostics) ?? DiagnosticSnapshot()
        diagnostics.classes = DiagnosticSnapshot.classes(
            byIndex: try container.decodeIfPresent([String: ClassSnapshot].self, forKey: .classes) ?? [:])
        nonfiniteValues = (try container.decodeIfPresent([String: [String: Int]].self, forKey: .nonfiniteValues) ?? [:])
            .flatMap { tensor, kinds in kinds.map { NonfiniteValueCount(tensor: tensor, kind: $0.key, count: $0.value) }
            }
            .sorted { ($0.tensor, $0.kind) < ($1.tensor, $1.kind) }
    }

    /// Writes it as JSON, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(run, forKey: .run)
        try container.encode(split, forKey: .split)
        try container.encode(batches, forKey: .batches)
        try container.encode(samples, forKey: .samples)
        try container.encode(finite: batchesPerSecond, forKey: .batchesPerSecond)
        try container.encode(finite: positivesPerBatch, forKey: .positivesPerBatch)
        try container.encode(finite: negativesPerBatch, forKey: .negativesPerBatch)
        try container.encode(nonfinite, forKey: .nonfinite)
        try container.encode(staleEpochBatches, forKey: .staleEpochBatches)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(lastEpoch, forKey: .lastEpoch)
        try container.encode(step, forKey: .step)
        try container.encode(finite: lastRecordTime, forKey: .lastRecordTime)
        try container.encode(
            Dictionary(uniqueKeysWithValues: errors.map { ($0.code.rawValue, $0.count) }), forKey: .errors)
        try container.encode(loss, forKey: .loss)
        try container.encode(classification, forKey: .classification)
        try container.encode(localization, forKey: .localization)
        try container.encode(steps, forKey: .steps)
        try container.encode(lastCompleteStep, forKey: .lastCompleteStep)
        try container.encode(stepCounts, forKey: .stepCounts)
        try container.encode(divergence, forKey: .divergence)
        try container.encode(diagnostics, forKey: .diagnostics)
        try container.encode(diagnostics.classesByIndex, forKey: .classes)
        var nested: [String: [String: Int]] = [:]
        for value in nonfiniteValues { nested[value.tensor, default: [:]][value.kind] = value.count }
        try container.encode(nested, forKey: .nonfiniteValues)
    }
}

extension ComponentSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case mean, ema, window, last, min, max, epochMean = "epoch_mean", lastEpochMean = "last_epoch_mean"
    }

    /// Reads one from JSON; see the type's description for what may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            mean: try container.decodeIfPresent(Double.self, forKey: .mean),
            ema: try container.decodeIfPresent(Double.self, forKey: .ema),
            window: try container.decodeIfPresent(Double.self, forKey: .window),
            last: try container.decodeIfPresent(Double.self, forKey: .last),
            min: try container.decodeIfPresent(Double.self, forKey: .min),
            max: try container.decodeIfPresent(Double.self, forKey: .max),
            epochMean: try container.decodeIfPresent(Double.self, forKey: .epochMean),
            lastEpochMean: try container.decodeIfPresent(Double.self, forKey: .lastEpochMean))
    }

    /// Writes it as JSON, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: mean, forKey: .mean)
        try container.encode(finite: ema, forKey: .ema)
        try container.encode(finite: window, forKey: .window)
        try container.encode(finite: last, forKey: .last)
        try container.encode(finite: min, forKey: .min)
        try container.encode(finite: max, forKey: .max)
        try container.encode(finite: epochMean, forKey: .epochMean)
        try container.encode(finite: lastEpochMean, forKey: .lastEpochMean)
    }
}

extension SourceSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case run, source, stream, highestSeq = "highest_seq", lost, duplicates, late, pending, streams
        case retiredStreams = "retired_streams"
    }

    /// Reads one from JSON; see the type's description for what may be missing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        run = try container.decode(String.self, forKey: .run)
        source = try container.decode(String.self, forKey: .source)
        highestSeq = try container.decodeIfPresent(Int.self, forKey: .highestSeq) ?? -1
        lost = try container.decodeIfPresent(Int.self, forKey: .lost) ?? 0
        duplicates = try container.decodeIfPresent(Int.self, forKey: .duplicates) ?? 0
        late = try container.decodeIfPresent(Int.self, forKey: .late) ?? 0
        pending = try container.decodeIfPresent(Int.self, forKey: .pending) ?? 0
        stream = try container.decodeIfPresent(String.self, forKey: .stream)
        streams = try container.decodeIfPresent(Int.self, forKey: .streams) ?? 0
        retiredStreams = try container.decodeIfPresent(Int.self, forKey: .retiredStreams) ?? 0
    }

    /// Writes it as JSON, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(run, forKey: .run)
        try container.encode(source, forKey: .source)
        try container.encode(highestSeq, forKey: .highestSeq)
        try container.encode(lost, forKey: .lost)
        try container.encode(duplicates, forKey: .duplicates)
        try container.encode(late, forKey: .late)
        try container.encode(pending, forKey: .pending)
        try container.encode(stream, forKey: .stream)
        try container.encode(streams, forKey: .streams)
        try container.encode(retiredStreams, forKey: .retiredStreams)
    }
}

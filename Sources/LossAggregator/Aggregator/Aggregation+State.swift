import LossWire

/// The saved form of an ``Aggregation``: one JSON object holding every running sum, the window's
/// batches and each (run, source)'s seq marks, so a restarted daemon continues exactly where the
/// saved one stopped. Rates are not saved; they start again after a restart.
extension Aggregation {
    /// The `kind` of a state file.
    static let stateKind = "lossd-aggregate-state"

    /// The state as JSON text, stamped with `savedAt` (seconds since the Unix epoch).
    public func stateJSON(savedAt: Double) -> [UInt8] {
        var json = JSONWriter(capacity: 4096 + splits.count * (2048 + parameters.window * 80))
        json.beginObject()
        json.key("v")
        json.int(1)
        json.key("kind")
        json.string(Self.stateKind)
        json.key("saved_at")
        json.double(savedAt)
        json.key("start_time")
        json.double(startTime)
        json.key("parameters")
        parameters.write(to: &json)
        for (name, value) in [("records", records), ("invalid", invalid), ("overflow", overflow)] {
            json.key(name)
            json.int(value)
        }
        json.key("splits")
        json.beginArray()
        for (key, statistics) in splits.sorted(by: { $0.key < $1.key }) {
            statistics.writeState(key: key, to: &json)
        }
        json.endArray()
        json.key("sources")
        json.beginArray()
        for (key, tracker) in sources.sorted(by: { $0.key < $1.key }) {
            tracker.writeState(key: key, to: &json)
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// Restores a saved state, continuing with `parameters` (which may differ from the saved ones:
    /// the window keeps its newest batches, the seq marks are re-laid for the new reorder window).
    /// Keys beyond `parameters.maxKeys` are dropped.
    ///
    /// - Throws: ``AggregatorStateError/damaged(reason:)`` when the text is not a complete state.
    public init(stateJSON bytes: [UInt8], parameters: AggregationParameters) throws(AggregatorStateError) {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch {
            throw .damaged(reason: "it is not JSON (\(error))")
        }
        let root = try StateObjectReader(value, path: "")
        guard (try? root.string("kind")) == Self.stateKind else {
            throw .damaged(reason: "it is not a lossd aggregate state (its \"kind\" is not \"\(Self.stateKind)\")")
        }
        guard try root.int("v") == 1 else {
            throw .damaged(reason: "its version \(try root.int("v")) is not 1")
        }
        self.init(parameters: parameters, startTime: try root.double("start_time"))
        records = try root.int("records")
        invalid = try root.int("invalid")
        overflow = try root.int("overflow")
        for (index, item) in try root.array("splits").enumerated() {
            let reader = try StateObjectReader(item, path: "splits[\(index)]")
            let key = SplitKey(run: try reader.string("run"), split: try reader.string("split"))
            guard splits.count < parameters.maxKeys else { break }
            splits[key] = try SplitStatistics(state: reader, window: parameters.window, historyPoints: parameters.historyPoints)
        }
        for (index, item) in try root.array("sources").enumerated() {
            let reader = try StateObjectReader(item, path: "sources[\(index)]")
            let key = SourceKey(run: try reader.string("run"), source: try reader.string("source"))
            guard sources.count < parameters.maxKeys else { break }
            sources[key] = try SequenceTracker(state: reader, reorderWindow: parameters.reorderWindow)
        }
        recountLostByRun()
    }
}

extension SplitStatistics {
    func writeState(key: SplitKey, to json: inout JSONWriter) {
        json.beginObject()
        json.key("run")
        json.string(key.run)
        json.key("split")
        json.string(key.split)
        for (name, value) in [("batches", batches), ("samples", samples), ("negatives_sum", negativesSum),
                              ("nonfinite", nonfinite), ("stale_epoch_batches", staleEpochBatches)] {
            json.key(name)
            json.int(value)
        }
        json.key("positives_sum")
        json.double(positivesSum)
        json.nullableInt("epoch", epoch)
        json.nullableInt("last_epoch", lastEpoch)
        json.nullableInt("step", step)
        json.optionalDouble("last_record_time", lastRecordTime)
        json.key("errors")
        json.beginObject()
        for (code, count) in errors.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            json.key(code.rawValue)
            json.int(count)
        }
        json.endObject()
        json.key("components")
        json.beginArray()
        for component in [loss, classification, localization] {
            component.writeState(to: &json)
        }
        json.endArray()
        json.key("window")
        json.beginArray()
        for entry in window.orderedEntries {
            json.beginArray()
            json.double(entry.weight)
            for index in 0..<3 { json.exactDouble(entry.values[index]) }
            json.endArray()
        }
        json.endArray()
        json.key("history")
        history.writeState(to: &json)
        json.endObject()
    }

    /// Restores one (run, split); a state without `history` (saved before there was one) starts
    /// an empty history.
    init(state reader: StateObjectReader, window capacity: Int, historyPoints: Int) throws(AggregatorStateError) {
        self.init(window: capacity, historyPoints: historyPoints)
        batches = try reader.int("batches")
        samples = try reader.int("samples")
        negativesSum = try reader.int("negatives_sum")
        nonfinite = try reader.int("nonfinite")
        staleEpochBatches = try reader.int("stale_epoch_batches")
        positivesSum = try reader.double("positives_sum")
        epoch = try reader.optionalInt("epoch")
        lastEpoch = try reader.optionalInt("last_epoch")
        step = try reader.optionalInt("step")
        lastRecordTime = try reader.optionalDouble("last_record_time")
        for (name, count) in try reader.intMembers("errors") {
            guard let code = ErrorCode(rawValue: name) else {
                throw .damaged(reason: "\(reader.path).errors has an unknown code \"\(name)\"")
            }
            errors[code] = count
            errorTotal += count
        }
        let components = try reader.array("components")
        guard components.count == 3 else {
            throw .damaged(reason: "\(reader.path).components has \(components.count) entries; expected 3")
        }
        loss = try ComponentStatistics(state: StateObjectReader(components[0], path: "\(reader.path).components[0]"))
        classification = try ComponentStatistics(state: StateObjectReader(components[1], path: "\(reader.path).components[1]"))
        localization = try ComponentStatistics(state: StateObjectReader(components[2], path: "\(reader.path).components[2]"))
        var entries: [BatchWindow.Entry] = []
        for item in try reader.array("window") {
            guard case .array(let numbers) = item, numbers.count == 4,
                  let weight = numbers[0].doubleValue, weight >= 0
            else {
                throw .damaged(reason: "\(reader.path).window holds an entry that is not [batch, loss, classification, localization]")
            }
            // A non-finite value weighs nothing in the window's means.
            let values = numbers[1...].map { JSONValue.exactDouble($0) ?? .nan }
            entries.append(BatchWindow.Entry(weight: weight, values: SIMD4(values[0], values[1], values[2], 0)))
        }
        window = BatchWindow(capacity: capacity, entries: entries)
        if try reader.has("history") {
            history = try HistoryBuffer(state: reader.object("history"), capacity: historyPoints)
        }
    }
}

extension ComponentStatistics {
    func writeState(to json: inout JSONWriter) {
        json.beginObject()
        for (name, value) in [("weighted_sum", weightedSum), ("weight", weight), ("ema_raw", emaRaw),
                              ("decay_power", decayPower), ("epoch_sum", epochSum), ("epoch_weight", epochWeight)] {
            json.key(name)
            json.double(value)
        }
        json.key("last")
        if let last { json.exactDouble(last) } else { json.null() }
        json.optionalDouble("min", minimum)
        json.optionalDouble("max", maximum)
        json.optionalDouble("last_epoch_mean", lastEpochMean)
        json.endObject()
    }

    init(state reader: StateObjectReader) throws(AggregatorStateError) {
        self.init()
        weightedSum = try reader.double("weighted_sum")
        weight = try reader.double("weight")
        emaRaw = try reader.double("ema_raw")
        decayPower = try reader.double("decay_power")
        epochSum = try reader.double("epoch_sum")
        epochWeight = try reader.double("epoch_weight")
        last = try reader.optionalExactDouble("last")
        minimum = try reader.optionalDouble("min")
        maximum = try reader.optionalDouble("max")
        lastEpochMean = try reader.optionalDouble("last_epoch_mean")
    }
}

extension SequenceTracker {
    func writeState(key: SourceKey, to json: inout JSONWriter) {
        json.beginObject()
        json.key("run")
        json.string(key.run)
        json.key("source")
        json.string(key.source)
        for (name, value) in [("highest", highest), ("lost", lost), ("duplicates", duplicates), ("late", late)] {
            json.key(name)
            json.int(value)
        }
        for (name, seqs) in [("pending", pending), ("lost_seqs", rememberedLost)] {
            json.key(name)
            json.beginArray()
            for seq in seqs { json.int(seq) }
            json.endArray()
        }
        json.endObject()
    }

    init(state reader: StateObjectReader, reorderWindow: Int) throws(AggregatorStateError) {
        let highest = try reader.int("highest")
        guard highest >= -1 else { throw .damaged(reason: "\(reader.path).highest is \(highest)") }
        self.init(
            reorderWindow: reorderWindow, highest: highest, lost: try reader.int("lost"),
            duplicates: try reader.int("duplicates"), late: try reader.int("late"),
            pending: try reader.ints("pending"), rememberedLost: try reader.ints("lost_seqs"))
    }
}

extension JSONWriter {
    /// Writes a number that may be NaN or infinite: those become the strings `"NaN"`,
    /// `"Infinity"` and `"-Infinity"`, so that a state file keeps them.
    mutating func exactDouble(_ value: Double) {
        if value.isFinite {
            double(value)
        } else {
            string(value.isNaN ? "NaN" : value > 0 ? "Infinity" : "-Infinity")
        }
    }
}

extension JSONValue {
    /// A number written by ``JSONWriter/exactDouble(_:)``, or nil.
    static func exactDouble(_ value: JSONValue) -> Double? {
        switch value {
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: value.doubleValue
        }
    }
}

public import LossWire

extension AggregatorSnapshot {
    /// The snapshot as one JSON object (what `GET /stats` returns, one line of the snapshots file,
    /// and the payload of the `stats` topic); docs/OPERATIONS.md describes every key.
    ///
    /// Every key is always present; a statistic without a value yet (no batch, an empty epoch, a
    /// non-finite last value) is `null`.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("v")
        json.int(1)
        json.key("kind")
        json.string("stats")
        json.key("time")
        json.double(time)
        json.key("start_time")
        json.double(startTime)
        json.key("parameters")
        parameters.write(to: &json)
        json.key("records")
        json.int(records)
        json.key("invalid")
        json.int(invalid)
        json.key("overflow")
        json.int(overflow)
        json.key("records_per_s")
        json.double(recordsPerSecond)
        json.key("splits")
        json.beginArray()
        for split in splits { split.write(to: &json) }
        json.endArray()
        json.key("sources")
        json.beginArray()
        for source in sources { source.write(to: &json) }
        json.endArray()
        json.endObject()
    }

    /// The snapshot as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        var json = JSONWriter(capacity: 512 + 1200 * splits.count + 120 * sources.count)
        write(to: &json)
        return json.bytes
    }
}

extension SplitSnapshot {
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("run")
        json.string(run)
        json.key("split")
        json.string(split)
        json.key("batches")
        json.int(batches)
        json.key("samples")
        json.int(samples)
        json.key("batches_per_s")
        json.double(batchesPerSecond)
        json.optionalDouble("positives_per_batch", positivesPerBatch)
        json.optionalDouble("negatives_per_batch", negativesPerBatch)
        json.key("nonfinite")
        json.int(nonfinite)
        json.key("stale_epoch_batches")
        json.int(staleEpochBatches)
        json.nullableInt("epoch", epoch)
        json.nullableInt("last_epoch", lastEpoch)
        json.nullableInt("step", step)
        json.optionalDouble("last_record_time", lastRecordTime)
        json.key("errors")
        json.beginObject()
        for error in errors {
            json.key(error.code.rawValue)
            json.int(error.count)
        }
        json.endObject()
        for (name, statistics) in components {
            json.key(name)
            json.beginObject()
            for (statistic, value) in statistics.named {
                json.optionalDouble(statistic, value)
            }
            json.endObject()
        }
        json.endObject()
    }
}

extension SourceSnapshot {
    func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("run")
        json.string(run)
        json.key("source")
        json.string(source)
        json.key("highest_seq")
        json.int(highestSeq)
        json.key("lost")
        json.int(lost)
        json.key("duplicates")
        json.int(duplicates)
        json.key("late")
        json.int(late)
        json.key("pending")
        json.int(pending)
        json.endObject()
    }
}

extension JSONWriter {
    /// Writes `"name":value`, or `"name":null` when `value` is nil or not finite.
    mutating func optionalDouble(_ name: String, _ value: Double?) {
        key(name)
        if let value { double(value) } else { null() }
    }

    /// Writes `"name":value`, or `"name":null` when `value` is nil.
    mutating func nullableInt(_ name: String, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }
}

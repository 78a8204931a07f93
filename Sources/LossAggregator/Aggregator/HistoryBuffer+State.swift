import LossWire

/// The saved form of a history, inside its (run, split) of the state file:
///
/// ```json
/// "history": {"stride": 4, "points": [[tick, batches, step, time, errors, lost,
///     mean×3, ema×3, window×3, low×3, high×3], …]}
/// ```
///
/// Each point is one array of 21 numbers, the three-number groups being loss, classification and
/// localization; `step` and values without one are `null`. The key is new: a state file without
/// it loads with an empty history, and a daemon that predates it ignores it.
extension HistoryBuffer {
    /// Numbers per saved point.
    static let savedPointLength = 21

    func writeState(to json: inout JSONWriter) {
        json.beginObject()
        json.key("stride")
        json.int(stride)
        json.key("points")
        json.beginArray()
        for sample in samples {
            json.beginArray()
            json.int(sample.tick)
            json.int(sample.batches)
            if let step = sample.step { json.int(step) } else { json.null() }
            json.double(sample.time)
            json.int(sample.errors)
            json.int(sample.lost)
            for lanes in [sample.mean, sample.ema, sample.window, sample.low, sample.high] {
                for lane in 0..<3 { json.float(lanes[lane]) }
            }
            json.endArray()
        }
        json.endArray()
        json.endObject()
    }

    init(state reader: StateObjectReader, capacity: Int) throws(AggregatorStateError) {
        let stride = try reader.int("stride")
        guard stride >= 1 else { throw .damaged(reason: "\(reader.path).stride is \(stride); expected at least 1") }
        var samples: [HistorySample] = []
        let points = try reader.array("points")
        samples.reserveCapacity(points.count)
        for (index, item) in points.enumerated() {
            guard case .array(let numbers) = item, numbers.count == Self.savedPointLength,
                  let tick = numbers[0].intValue, let batches = numbers[1].intValue, let time = numbers[3].doubleValue,
                  let errors = numbers[4].intValue, let lost = numbers[5].intValue
            else {
                throw .damaged(reason: "\(reader.path).points[\(index)] is not [tick, batches, step, time, errors, lost, 15 values]")
            }
            let step: Int?
            switch numbers[2] {
            case .null: step = nil
            case .int(let value): step = value
            default: throw .damaged(reason: "\(reader.path).points[\(index)] has a step that is not an integer or null")
            }
            if let previous = samples.last, tick <= previous.tick {
                throw .damaged(reason: "\(reader.path).points[\(index)] does not come after the point before it")
            }
            func lanes(_ first: Int, absent: Float) -> SIMD4<Float> {
                var result = SIMD4<Float>(absent, absent, absent, 0)
                for lane in 0..<3 {
                    if let value = numbers[first + lane].doubleValue { result[lane] = Float(value) }
                }
                return result
            }
            samples.append(HistorySample(
                tick: tick, batches: batches, step: step, time: time, errors: errors, lost: lost,
                mean: lanes(6, absent: .nan), ema: lanes(9, absent: .nan), window: lanes(12, absent: .nan),
                low: lanes(15, absent: .infinity), high: lanes(18, absent: -.infinity)))
        }
        self.init(capacity: capacity, stride: stride, samples: samples)
    }
}

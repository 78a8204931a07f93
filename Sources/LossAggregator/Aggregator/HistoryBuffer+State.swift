/// The saved form of a history, inside its (run, split) of the state file:
///
/// ```json
/// "history": {"stride": 4, "points": [[tick, batches, step, time, errors, lost,
///     mean×3, ema×3, window×3, low×3, high×3], …]}
/// ```
///
/// Each point is one array of 21 numbers, the three-number groups being loss, classification and
/// localization; `step` and values without one are `null`. A state file without `history` loads
/// with an empty history, and a daemon that predates it ignores it.
extension HistoryBuffer: Codable {
    enum CodingKeys: String, CodingKey {
        case stride, points
    }

    /// Restores the saved points with room for all of them; ``init(capacity:stride:samples:)``
    /// fits them to another capacity.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let stride = try container.decode(Int.self, forKey: .stride)
        guard stride >= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .stride, in: container, debugDescription: "\(stride); expected at least 1")
        }
        let samples = try container.decode([HistorySample].self, forKey: .points)
        for (previous, next) in zip(samples, samples.dropFirst()) where next.tick <= previous.tick {
            throw DecodingError.dataCorruptedError(
                forKey: .points, in: container,
                debugDescription: "the point at tick \(next.tick) does not come after the one before it")
        }
        self.init(capacity: samples.count + 1, stride: stride, samples: samples)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stride, forKey: .stride)
        try container.encode(samples, forKey: .points)
    }
}

extension HistorySample: Codable {
    /// Numbers per saved point.
    static let savedLength = 21

    init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        guard container.count == Self.savedLength else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected [tick, batches, step, time, errors, lost, 15 values]")
        }
        let tick = try container.decode(Int.self)
        let batches = try container.decode(Int.self)
        let step = try container.decode(Int?.self)
        let time = try container.decode(Double.self)
        let errors = try container.decode(Int.self)
        let lost = try container.decode(Int.self)
        func lanes(absent: Float) throws -> SIMD4<Float> {
            var result = SIMD4<Float>(absent, absent, absent, 0)
            for lane in 0..<3 {
                if let value = try container.decode(Double?.self) { result[lane] = Float(value) }
            }
            return result
        }
        self.init(
            tick: tick, batches: batches, step: step, time: time, errors: errors, lost: lost,
            mean: try lanes(absent: .nan), ema: try lanes(absent: .nan), window: try lanes(absent: .nan),
            low: try lanes(absent: .infinity), high: try lanes(absent: -.infinity))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(tick)
        try container.encode(batches)
        try container.encode(step)
        try container.encode(finite: time)
        try container.encode(errors)
        try container.encode(lost)
        for lanes in [mean, ema, window, low, high] {
            for lane in 0..<3 {
                if lanes[lane].isFinite { try container.encode(lanes[lane]) } else { try container.encodeNil() }
            }
        }
    }
}

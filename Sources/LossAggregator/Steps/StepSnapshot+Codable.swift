/// A step as one JSON object of `/stats`'s `steps` (docs/DISTRIBUTED.md): every key present,
/// `null` where there is no value.
extension StepSnapshot: Codable {
    enum CodingKeys: String, CodingKey {
        case step, status, worldSize = "world_size", ranks, samples, pooled, mean, ema, lost, errors, time
    }

    /// Reads one from JSON.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        step = try container.decode(Int.self, forKey: .step)
        let statusName = try container.decode(String.self, forKey: .status)
        guard let status = Status(rawValue: statusName) else {
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: container, debugDescription: "\"\(statusName)\" is not open, complete or partial")
        }
        self.status = status
        worldSize = try container.decode(Int.self, forKey: .worldSize)
        ranks = try container.decodeIfPresent(Int.self, forKey: .ranks) ?? 0
        samples = try container.decodeIfPresent(Int.self, forKey: .samples) ?? 0
        pooled = try container.decodeIfPresent(StepValues.self, forKey: .pooled) ?? .none
        mean = try container.decodeIfPresent(StepValues.self, forKey: .mean) ?? .none
        ema = try container.decodeIfPresent(StepValues.self, forKey: .ema) ?? .none
        lost = try container.decodeIfPresent(Int.self, forKey: .lost)
        errors = try container.decodeIfPresent(Int.self, forKey: .errors)
        time = try container.decodeIfPresent(Double.self, forKey: .time)
    }

    /// Writes it as JSON, every key present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(step, forKey: .step)
        try container.encode(status.rawValue, forKey: .status)
        try container.encode(worldSize, forKey: .worldSize)
        try container.encode(ranks, forKey: .ranks)
        try container.encode(samples, forKey: .samples)
        try container.encode(pooled, forKey: .pooled)
        try container.encode(mean, forKey: .mean)
        try container.encode(ema, forKey: .ema)
        try container.encode(lost, forKey: .lost)
        try container.encode(errors, forKey: .errors)
        try container.encode(finite: time, forKey: .time)
    }
}

extension StepValues: Codable {
    enum CodingKeys: String, CodingKey {
        case loss, classification, localization
    }

    /// Reads one from JSON; `null` is no value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            loss: try container.decodeIfPresent(Double.self, forKey: .loss),
            classification: try container.decodeIfPresent(Double.self, forKey: .classification),
            localization: try container.decodeIfPresent(Double.self, forKey: .localization))
    }

    /// Writes the three values, `null` where there is none.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finite: loss, forKey: .loss)
        try container.encode(finite: classification, forKey: .classification)
        try container.encode(finite: localization, forKey: .localization)
    }
}

extension StepCounts: Codable {
    enum CodingKeys: String, CodingKey {
        case open, complete, partial, resumes, replaced, dropped
    }

    /// Reads one from JSON; an absent count is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int { try container.decodeIfPresent(Int.self, forKey: key) ?? 0 }
        self.init(
            open: try count(.open), complete: try count(.complete), partial: try count(.partial),
            resumes: try count(.resumes), replaced: try count(.replaced), dropped: try count(.dropped))
    }

    /// Writes every count.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(open, forKey: .open)
        try container.encode(complete, forKey: .complete)
        try container.encode(partial, forKey: .partial)
        try container.encode(resumes, forKey: .resumes)
        try container.encode(replaced, forKey: .replaced)
        try container.encode(dropped, forKey: .dropped)
    }
}

import LossWire
import SSDLoss

/// A (run, split)'s steps in the state file, under the split's `steps` key: every kept step with
/// its ranks' records (its figures are computed again when it loads), each rank's stream, the
/// counts, and how far the TensorBoard writer got. A state saved before steps existed has none.
///
/// ```json
/// {"counters": {"complete": 3, …}, "tensorboard": {"written_through": 2, "dirty_from": null},
///  "timelines": [{"rank": 0, "stream": "8c1f…", "highest": 2, "earlier": [{"stream": "5e0a…", "from": 1}]}, …],
///  "entries": [{"step": 2, "status": "complete", "world_size": 2, "closed_at": …, "lost": 0, "errors": 0,
///               "ema": [raw_loss, raw_classification, raw_localization, power], "deadline": null,
///               "ranks": [{"rank": 0, "stream": …, "batch": 8, "loss": …, "classification": …,
///                          "localization": …, "positives": …, "sums": [Σ class, Σ loc, normalizer],
///                          "profile": "keras", "alpha": 1.0, "world_size": 2}, …]}, …]}
/// ```
extension StepTable: Codable {
    enum CodingKeys: String, CodingKey {
        case entries, timelines, counters, tensorboard
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let saved = try container.decode([SavedStep].self, forKey: .entries)
        var entries: [Int: StepEntry] = [:]
        for step in saved { entries[step.step] = step.entry }
        var timelines: [Int: RankTimeline] = [:]
        for timeline in try container.decode([SavedTimeline].self, forKey: .timelines) {
            timelines[timeline.rank] = timeline.timeline
        }
        var cursor =
            try container.decodeIfPresent(SavedCursor.self, forKey: .tensorboard)?.cursor ?? TensorBoardCursor()
        // The event files may hold steps written after this state was saved: the next write
        // starts with a restart marker, so that TensorBoard drops them and takes these instead.
        if !entries.isEmpty {
            cursor.dirtyFrom = min(cursor.dirtyFrom ?? Int.max, (cursor.writtenThrough ?? -1) + 1)
            cursor.mustPurge = true
        }
        self.init(
            entries: entries, timelines: timelines,
            counters: try container.decode(StepCounters.self, forKey: .counters), tensorBoard: cursor)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(
            order.compactMap { step in entries[step].map { SavedStep(step: step, entry: $0) } }, forKey: .entries)
        try container.encode(
            timelines.sorted { $0.key < $1.key }.map { SavedTimeline(rank: $0.key, $0.value) }, forKey: .timelines)
        try container.encode(counters, forKey: .counters)
        try container.encode(SavedCursor(tensorBoard), forKey: .tensorboard)
    }
}

extension StepCounters: Codable {
    enum CodingKeys: String, CodingKey {
        case complete, partial, resumes, replaced, dropped
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int {
            max(0, try container.decodeIfPresent(Int.self, forKey: key) ?? 0)
        }
        self.init(
            complete: try count(.complete), partial: try count(.partial), resumes: try count(.resumes),
            replaced: try count(.replaced), dropped: try count(.dropped))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(complete, forKey: .complete)
        try container.encode(partial, forKey: .partial)
        try container.encode(resumes, forKey: .resumes)
        try container.encode(replaced, forKey: .replaced)
        try container.encode(dropped, forKey: .dropped)
    }
}

private struct SavedCursor: Codable {
    var writtenThrough: Int?
    var dirtyFrom: Int?

    enum CodingKeys: String, CodingKey {
        case writtenThrough = "written_through", dirtyFrom = "dirty_from"
    }

    init(_ cursor: TensorBoardCursor) {
        writtenThrough = cursor.writtenThrough
        dirtyFrom = cursor.dirtyFrom
    }

    var cursor: TensorBoardCursor { TensorBoardCursor(writtenThrough: writtenThrough, dirtyFrom: dirtyFrom) }
}

private struct SavedTimeline: Codable {
    var rank: Int
    var stream: String
    var highest: Int
    /// The streams the rank left, with the step their successors took over from.
    var earlier: [SavedHandover]?

    init(rank: Int, _ timeline: StepTable.RankTimeline) {
        self.rank = rank
        stream = timeline.stream
        highest = timeline.highest
        earlier =
            timeline.earlier.isEmpty ? nil : timeline.earlier.map { SavedHandover(stream: $0.stream, from: $0.from) }
    }

    var timeline: StepTable.RankTimeline {
        StepTable.RankTimeline(
            stream: stream, highest: highest,
            earlier: (earlier ?? []).map { StepTable.Handover(stream: $0.stream, from: $0.from) })
    }
}

private struct SavedHandover: Codable {
    var stream: String
    var from: Int
}

/// One step: its status, what was kept when it closed, and its ranks' records.
private struct SavedStep: Codable {
    var step: Int
    var entry: StepEntry

    enum CodingKeys: String, CodingKey {
        case step, status, deadline, worldSize = "world_size", closedAt = "closed_at", lost, errors, ema, ranks
    }

    init(step: Int, entry: StepEntry) {
        self.step = step
        self.entry = entry
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        step = try container.decode(Int.self, forKey: .step)
        let worldSize = try container.decode(Int.self, forKey: .worldSize)
        guard (1...StepTable.maxRanks).contains(worldSize) else {
            throw DecodingError.dataCorruptedError(
                forKey: .worldSize, in: container, debugDescription: "\(worldSize) is not 1 to \(StepTable.maxRanks)")
        }
        let status: StepEntry.Status
        switch try container.decode(String.self, forKey: .status) {
        case "open": status = .open(deadline: try container.decode(Double.self, forKey: .deadline))
        case "complete": status = .complete
        case "partial": status = .partial
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: container, debugDescription: "\"\(other)\" is not open, complete or partial")
        }
        entry = StepEntry(worldSize: worldSize, status: status)
        entry.closedAt = try container.decodeIfPresent(Double.self, forKey: .closedAt)
        entry.lost = try container.decodeIfPresent(Int.self, forKey: .lost) ?? 0
        entry.errors = try container.decodeIfPresent(Int.self, forKey: .errors) ?? 0
        if let ema = try container.decodeIfPresent([Double].self, forKey: .ema) {
            guard ema.count == 4 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .ema, in: container,
                    debugDescription: "expected [loss, classification, localization, power]")
            }
            entry.ema = StepEMA(raw: SIMD4(ema[0], ema[1], ema[2], 0), power: ema[3])
        }
        for rank in try container.decode([SavedContribution].self, forKey: .ranks) {
            guard rank.rank >= 0, rank.rank < worldSize else {
                throw DecodingError.dataCorruptedError(
                    forKey: .ranks, in: container, debugDescription: "rank \(rank.rank) of world size \(worldSize)")
            }
            entry.contributions[rank.rank] = rank.contribution
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(step, forKey: .step)
        switch entry.status {
        case .open(let deadline):
            try container.encode("open", forKey: .status)
            try container.encode(finite: deadline, forKey: .deadline)
        case .complete:
            try container.encode("complete", forKey: .status)
            try container.encodeNil(forKey: .deadline)
        case .partial:
            try container.encode("partial", forKey: .status)
            try container.encodeNil(forKey: .deadline)
        }
        try container.encode(entry.worldSize, forKey: .worldSize)
        try container.encode(finite: entry.closedAt, forKey: .closedAt)
        try container.encode(entry.lost, forKey: .lost)
        try container.encode(entry.errors, forKey: .errors)
        if let ema = entry.ema {
            var lanes = container.nestedUnkeyedContainer(forKey: .ema)
            for value in [ema.raw[0], ema.raw[1], ema.raw[2], ema.power] { try lanes.encode(exact: value) }
        } else {
            try container.encodeNil(forKey: .ema)
        }
        try container.encode(
            entry.contributions.sorted { $0.key < $1.key }.map {
                SavedContribution(rank: $0.key, contribution: $0.value)
            },
            forKey: .ranks)
    }
}

/// One rank's record of a step.
private struct SavedContribution: Codable {
    var rank: Int
    var contribution: StepContribution

    enum CodingKeys: String, CodingKey {
        case rank, stream, worldSize = "world_size", batch, loss, classification, localization, positives, sums
        case profile, alpha
    }

    init(rank: Int, contribution: StepContribution) {
        self.rank = rank
        self.contribution = contribution
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rank = try container.decode(Int.self, forKey: .rank)
        var sums: LossSums?
        if var lanes = try? container.nestedUnkeyedContainer(forKey: .sums) {
            sums = LossSums(
                classification: try lanes.decodeExact(), localization: try lanes.decodeExact(),
                normalizer: try lanes.decodeExact())
        }
        let profileName = try container.decode(String.self, forKey: .profile)
        guard let profile = LossProfile(rawValue: profileName) else {
            throw DecodingError.dataCorruptedError(
                forKey: .profile, in: container, debugDescription: "an unknown profile \"\(profileName)\"")
        }
        contribution = StepContribution(
            stream: try container.decode(String.self, forKey: .stream),
            worldSize: try container.decode(Int.self, forKey: .worldSize),
            batch: try container.decode(Int.self, forKey: .batch),
            loss: try container.decodeExactIfPresent(forKey: .loss) ?? .nan,
            classification: try container.decodeExactIfPresent(forKey: .classification) ?? .nan,
            localization: try container.decodeExactIfPresent(forKey: .localization) ?? .nan,
            positives: try container.decodeExactIfPresent(forKey: .positives) ?? .nan,
            sums: sums, profile: profile, alpha: try container.decode(Double.self, forKey: .alpha))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rank, forKey: .rank)
        try container.encode(contribution.stream, forKey: .stream)
        try container.encode(contribution.worldSize, forKey: .worldSize)
        try container.encode(contribution.batch, forKey: .batch)
        try container.encode(exact: contribution.loss, forKey: .loss)
        try container.encode(exact: contribution.classification, forKey: .classification)
        try container.encode(exact: contribution.localization, forKey: .localization)
        try container.encode(exact: contribution.positives, forKey: .positives)
        if let sums = contribution.sums {
            var lanes = container.nestedUnkeyedContainer(forKey: .sums)
            for value in [sums.classification, sums.localization, sums.normalizer] { try lanes.encode(exact: value) }
        } else {
            try container.encodeNil(forKey: .sums)
        }
        try container.encode(contribution.profile.rawValue, forKey: .profile)
        try container.encode(finite: contribution.alpha, forKey: .alpha)
    }
}

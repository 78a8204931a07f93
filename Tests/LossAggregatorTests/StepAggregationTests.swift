import Foundation
import LossWire
import SSDLoss
import Testing

@testable import LossAggregator

/// Loss records of a data-parallel job put together by step: the figures, complete and partial
/// steps, resumes from a checkpoint, bounds, the TensorBoard cursor and the state file.
@Suite("Steps across ranks")
struct StepAggregationTests {
    /// One rank's batch, for the independent computation.
    struct Batch {
        var batch: Int
        var classificationSum: Double
        var localizationSum: Double
        var positives: Double
        var normalizer: Double
    }

    /// The pooled figures computed the plain way: every sum over the step, then one division.
    static func pooled(_ batches: [Batch], profile: LossProfile, alpha: Double = 1) -> (Double, Double, Double) {
        let normalizer =
            profile == .mmdet
            ? batches.map(\.normalizer).reduce(0, +) : max(1, batches.map(\.positives).reduce(0, +))
        let classification = batches.map(\.classificationSum).reduce(0, +) / normalizer
        let localization = batches.map(\.localizationSum).reduce(0, +) / normalizer
        return (classification + alpha * localization, classification, localization)
    }

    /// The batch-size-weighted mean of each rank's own figures.
    static func mean(_ batches: [Batch], alpha: Double = 1) -> (Double, Double, Double) {
        let weight = Double(batches.map(\.batch).reduce(0, +))
        func weighted(_ value: (Batch) -> Double) -> Double {
            batches.map { Double($0.batch) * value($0) }.reduce(0, +) / weight
        }
        let classification = weighted { $0.classificationSum / $0.normalizer }
        let localization = weighted { $0.localizationSum / $0.normalizer }
        let loss = weighted { $0.classificationSum / $0.normalizer + alpha * $0.localizationSum / $0.normalizer }
        return (loss, classification, localization)
    }

    static let batches = [
        Batch(batch: 8, classificationSum: 31.5, localizationSum: 4.25, positives: 9, normalizer: 9),
        Batch(batch: 8, classificationSum: 12.0, localizationSum: 1.5, positives: 0, normalizer: 1),
        Batch(batch: 6, classificationSum: 44.75, localizationSum: 7.0, positives: 13.5, normalizer: 13.5),
        Batch(batch: 2, classificationSum: 3.0, localizationSum: 0.5, positives: 2, normalizer: 2),
    ]

    /// `batches` with both sums multiplied by `factor`: what a resumed run sends for a step.
    static func scaled(_ batches: [Batch], by factor: Double) -> [Batch] {
        batches.map {
            var batch = $0
            batch.classificationSum *= factor
            batch.localizationSum *= factor
            return batch
        }
    }

    private func ingest(
        _ aggregation: inout Aggregation, step: Int, stream: (Int) -> String = { "s\($0)" }, batches: [Batch] = batches,
        ranks: [Int]? = nil, profile: LossProfile = .keras, alpha: Double = 1, at time: Double = 10, scale: Double = 1
    ) {
        for rank in ranks ?? Array(batches.indices) {
            let batch = batches[rank]
            aggregation.ingest(
                Records.rank(
                    rank, of: batches.count, step: step, stream: stream(rank), batch: batch.batch,
                    classificationSum: batch.classificationSum * scale, localizationSum: batch.localizationSum * scale,
                    positives: batch.positives, normalizer: batch.normalizer, profile: profile, alpha: alpha),
                at: time)
        }
    }

    private func split(_ aggregation: Aggregation, steps: Int = 100) throws -> SplitSnapshot {
        try #require(aggregation.snapshot(at: 1000, steps: steps).split(run: "job", split: "train"))
    }

    @Test(
        "a complete step's pooled and mean figures equal the plain computation",
        arguments: [(LossProfile.keras, 1.0), (.keras, 0.5), (.torchvision, 1.0), (.ssdPytorch, 1.0)])
    func figures(_ profile: LossProfile, _ alpha: Double) throws {
        var aggregation = Aggregation(startTime: 0)
        var batches = Self.batches
        // The normaliser these profiles divide one rank's batch by.
        for index in batches.indices { batches[index].normalizer = max(1, batches[index].positives) }
        ingest(&aggregation, step: 7, batches: batches, profile: profile, alpha: alpha)
        let split = try split(aggregation)
        let step = try #require(split.steps.first)
        #expect(step.step == 7 && step.status == .complete && step.ranks == 4 && step.samples == 24)
        let (loss, classification, localization) = Self.pooled(batches, profile: profile, alpha: alpha)
        #expect(isClose(step.pooled.loss, loss) && isClose(step.pooled.classification, classification))
        #expect(isClose(step.pooled.localization, localization))
        let mean = Self.mean(batches, alpha: alpha)
        #expect(isClose(step.mean.loss, mean.0) && isClose(step.mean.classification, mean.1))
        #expect(isClose(step.mean.localization, mean.2))
        #expect(split.lastCompleteStep == step && split.stepCounts.complete == 1)
        // One complete step: its EMA is its pooled value.
        #expect(isClose(step.ema.loss, loss))
    }

    @Test("mmdet's normaliser is a sum over images, so the ranks' normalisers add up")
    func mmdet() throws {
        var aggregation = Aggregation(startTime: 0)
        var batches = Self.batches
        batches[1].normalizer = 8  // eight images without a positive: 1 each
        ingest(&aggregation, step: 0, batches: batches, profile: .mmdet)
        let step = try #require(try split(aggregation).steps.first)
        let (loss, _, _) = Self.pooled(batches, profile: .mmdet)
        #expect(isClose(step.pooled.loss, loss))
        #expect(!isClose(step.pooled.loss, Self.pooled(batches, profile: .keras).0))
    }

    @Test("ranks with different profiles or records without sums have a mean but no pooled figure")
    func notPoolable() throws {
        var aggregation = Aggregation(startTime: 0)
        let batch = Self.batches[0]
        for (rank, profile) in [(0, LossProfile.keras), (1, .torchvision)] {
            aggregation.ingest(
                Records.rank(
                    rank, of: 2, step: 1, stream: "s\(rank)", classificationSum: batch.classificationSum,
                    localizationSum: batch.localizationSum, positives: batch.positives, profile: profile), at: 1)
        }
        var old = Records.rank(
            0, of: 1, step: 1, stream: "x", split: "val", classificationSum: 1, localizationSum: 1, positives: 1)
        if case .loss(var record) = old {
            record.sums = nil
            old = .loss(record)
        }
        aggregation.ingest(old, at: 1)
        let train = try #require(try split(aggregation).steps.first)
        #expect(train.status == .complete && train.pooled == .none && train.mean.loss != nil)
        let val = try #require(aggregation.snapshot(at: 2).split(run: "job", split: "val")?.steps.first)
        #expect(val.status == .complete && val.pooled == .none && val.mean.loss == 2)
    }

    @Test("a step missing a rank stays open, then closes partial at its timeout; counted, kept apart")
    func partial() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(stepTimeout: 5), startTime: 0)
        ingest(&aggregation, step: 0, at: 10)
        ingest(&aggregation, step: 1, ranks: [0, 2, 3], at: 11)
        var split = try split(aggregation)
        #expect(split.steps.map(\.status) == [.complete, .open] && split.stepCounts.open == 1)
        #expect(split.steps[1].pooled == .none && split.steps[1].ranks == 3)
        aggregation.housekeeping(at: 15.9)
        #expect(try self.split(aggregation).stepCounts.open == 1)
        aggregation.housekeeping(at: 16)
        split = try self.split(aggregation)
        #expect(split.steps.map(\.status) == [.complete, .partial])
        #expect(split.stepCounts.partial == 1 && split.stepCounts.open == 0 && split.lastCompleteStep?.step == 0)
        let present = [0, 2, 3].map { Self.batches[$0] }
        #expect(isClose(split.steps[1].pooled.loss, Self.pooled(present, profile: .keras).0))
        // A partial step takes no part in the EMA.
        #expect(split.steps[1].ema == .none)
        // The missing rank arrives late: the step is complete now, and counted as such.
        ingest(&aggregation, step: 1, ranks: [1], at: 20)
        split = try self.split(aggregation)
        #expect(split.steps.map(\.status) == [.complete, .complete] && split.stepCounts.partial == 1)
        #expect(split.stepCounts.complete == 2 && split.lastCompleteStep?.step == 1)
    }

    @Test("more open steps than open_steps: the oldest closes partial")
    func openBound() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(openSteps: 2), startTime: 0)
        for step in 0..<4 { ingest(&aggregation, step: step, ranks: [0]) }
        let split = try split(aggregation)
        #expect(split.steps.map(\.status) == [.partial, .partial, .open, .open])
        #expect(split.stepCounts.partial == 2 && split.stepCounts.open == 2)
    }

    @Test("a whole job resumed from a checkpoint replaces the steps from there on")
    func wholeJobResume() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(stepTimeout: 1), startTime: 0)
        for step in 0..<12 { ingest(&aggregation, step: step, at: 10) }
        ingest(&aggregation, step: 12, ranks: [0, 1], at: 10)  // killed before ranks 2 and 3 sent it
        aggregation.housekeeping(at: 20)
        #expect(try split(aggregation).stepCounts.partial == 1)
        // Every rank restarts from step 8, in a new process (a new stream), with other values.
        for step in 8..<10 { ingest(&aggregation, step: step, stream: { "new\($0)" }, at: 30, scale: 2) }
        let split = try split(aggregation)
        #expect(split.steps.map(\.step) == Array(0..<10))
        #expect(split.steps.allSatisfy { $0.status == .complete })
        let replaced = Self.pooled(Self.scaled(Self.batches, by: 2), profile: .keras).0
        let original = Self.pooled(Self.batches, profile: .keras).0
        #expect(split.steps.filter { $0.step >= 8 }.allSatisfy { isClose($0.pooled.loss, replaced) })
        #expect(split.steps.filter { $0.step < 8 }.allSatisfy { isClose($0.pooled.loss, original) })
        #expect(split.stepCounts.resumes == 4 && split.lastCompleteStep?.step == 9)
        // The steps' records: 4 × (12 − 8) + 2 of step 12 withdrawn; none from before step 8.
        #expect(split.stepCounts.replaced == 18)
    }

    @Test("a rank that restarts alone replaces only its own records of the steps it repeats")
    func singleRankRestart() throws {
        var aggregation = Aggregation(startTime: 0)
        for step in 0..<10 { ingest(&aggregation, step: step) }
        // Rank 2 restarts from step 6 alone; the others have gone on to step 9 already.
        for step in 6..<10 { ingest(&aggregation, step: step, stream: { "again\($0)" }, ranks: [2], scale: 3) }
        let split = try split(aggregation)
        #expect(split.steps.allSatisfy { $0.status == .complete } && split.stepCounts.resumes == 1)
        var latest = Self.batches
        latest[2] = Self.scaled([latest[2]], by: 3)[0]
        #expect(
            split.steps.filter { $0.step >= 6 }.allSatisfy {
                isClose($0.pooled.loss, Self.pooled(latest, profile: .keras).0)
            })
        #expect(
            split.steps.filter { $0.step < 6 }.allSatisfy {
                isClose($0.pooled.loss, Self.pooled(Self.batches, profile: .keras).0)
            })
        #expect(split.stepCounts.replaced == 4)
    }

    @Test("records of a rank's earlier stream that arrive after its new one (in flight at the restart) undo nothing")
    func stragglersOfAnEarlierStream() throws {
        var aggregation = Aggregation(startTime: 0)
        // Rank 0's steps 8 and 9 are still in flight when the whole job is killed.
        for step in 0..<8 { ingest(&aggregation, step: step) }
        for step in 8..<10 { ingest(&aggregation, step: step, ranks: [1, 2, 3]) }
        // The job resumes from step 6 in new processes; rank 0's old steps 8 and 9 arrive late,
        // one while the new run is at step 7, the other once it has passed them.
        let new: (Int) -> String = { "new\($0)" }
        for step in 6..<8 { ingest(&aggregation, step: step, stream: new, scale: 2) }
        // (The aggregator restarts from its state meanwhile: the streams the ranks left are kept.)
        aggregation = try Aggregation(stateJSON: aggregation.stateJSON(savedAt: 11), parameters: aggregation.parameters)
        ingest(&aggregation, step: 8, ranks: [0])
        for step in 8..<12 { ingest(&aggregation, step: step, stream: new, scale: 2) }
        ingest(&aggregation, step: 9, ranks: [0])
        // A late record of the old stream from before the resume still counts for its step.
        ingest(&aggregation, step: 5, ranks: [0])

        let split = try split(aggregation)
        #expect(split.steps.map(\.step) == Array(0..<12))
        #expect(split.steps.allSatisfy { $0.status == .complete })
        let replaced = Self.pooled(Self.scaled(Self.batches, by: 2), profile: .keras).0
        let original = Self.pooled(Self.batches, profile: .keras).0
        #expect(split.steps.filter { $0.step >= 6 }.allSatisfy { isClose($0.pooled.loss, replaced) })
        #expect(split.steps.filter { $0.step < 6 }.allSatisfy { isClose($0.pooled.loss, original) })
        #expect(split.stepCounts.resumes == 4)
        #expect(split.stepCounts.dropped == 2)
    }

    @Test("with resume=keep the steps already recorded stay; later steps are recorded as usual")
    func keep() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(resume: .keep), startTime: 0)
        for step in 0..<6 { ingest(&aggregation, step: step) }
        for step in 4..<8 { ingest(&aggregation, step: step, stream: { "new\($0)" }, scale: 2) }
        let split = try split(aggregation)
        let original = Self.pooled(Self.batches, profile: .keras).0
        #expect(split.steps.filter { $0.step < 6 }.allSatisfy { isClose($0.pooled.loss, original) })
        #expect(split.steps.filter { $0.step >= 6 }.allSatisfy { !isClose($0.pooled.loss, original) })
        #expect(split.stepCounts.dropped == 8 && split.stepCounts.resumes == 4 && split.stepCounts.replaced == 0)
    }

    @Test("at most step_history steps are kept; a record older than all of them is dropped, counted")
    func historyBound() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(stepHistory: 3), startTime: 0)
        for step in 0..<5 { ingest(&aggregation, step: step) }
        ingest(&aggregation, step: 1, ranks: [0])
        let split = try split(aggregation)
        #expect(split.steps.map(\.step) == [2, 3, 4] && split.stepCounts.dropped == 1)
    }

    @Test("records without rank and world_size take no part in steps, and change nothing else")
    func noRanks() throws {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.loss(run: "job", step: 3, loss: 1), at: 1)
        let split = try split(aggregation)
        #expect(split.steps.isEmpty && split.lastCompleteStep == nil && split.stepCounts == StepCounts())
        #expect(split.batches == 1 && split.step == 3)
    }

    @Test("the EMA runs over complete steps in step order, whatever order they completed in")
    func ema() throws {
        let decay = 0.9
        var aggregation = Aggregation(parameters: AggregationParameters(emaDecay: decay), startTime: 0)
        let scales = [1.0, 2.0, 0.5, 3.0]
        ingest(&aggregation, step: 1, scale: scales[1])
        ingest(&aggregation, step: 0, scale: scales[0])
        ingest(&aggregation, step: 3, scale: scales[3])
        ingest(&aggregation, step: 2, scale: scales[2])
        var raw = 0.0
        var expected: [Double] = []
        for (index, scale) in scales.enumerated() {
            raw = decay * raw + (1 - decay) * Self.pooled(Self.batches, profile: .keras).0 * scale
            expected.append(raw / (1 - pow(decay, Double(index + 1))))
        }
        let steps = try split(aggregation).steps
        #expect(zip(steps.map(\.ema.loss), expected).allSatisfy { isClose($0, $1) })
    }

    @Test("the TensorBoard cursor appends new steps and rewrites from the lowest one that changed")
    func tensorBoardChanges() throws {
        var aggregation = Aggregation(startTime: 0)
        for step in 0..<3 { ingest(&aggregation, step: step) }
        var changes = aggregation.takeStepChanges()
        #expect(changes.count == 1 && changes[0].changes.purgeFrom == nil)
        #expect(changes[0].changes.steps.map(\.step) == [0, 1, 2])
        #expect(aggregation.takeStepChanges().isEmpty)
        ingest(&aggregation, step: 3, ranks: [0, 1])  // open: nothing to write yet
        #expect(aggregation.takeStepChanges().isEmpty)
        ingest(&aggregation, step: 3, ranks: [2, 3])
        changes = aggregation.takeStepChanges()
        #expect(changes[0].changes.purgeFrom == nil && changes[0].changes.steps.map(\.step) == [3])
        // A resume at step 1: TensorBoard must drop 1… and get the new steps.
        ingest(&aggregation, step: 1, stream: { "new\($0)" }, scale: 2)
        changes = aggregation.takeStepChanges()
        #expect(changes[0].changes.purgeFrom == 1 && changes[0].changes.steps.map(\.step) == [1])
        ingest(&aggregation, step: 2, stream: { "new\($0)" }, scale: 2)
        changes = aggregation.takeStepChanges()
        #expect(changes[0].changes.purgeFrom == nil && changes[0].changes.steps.map(\.step) == [2])
    }

    @Test("steps, open and closed, survive the state file with the same figures")
    func stateRoundTrip() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(stepTimeout: 5), startTime: 0)
        for step in 0..<3 { ingest(&aggregation, step: step, at: 10) }
        ingest(&aggregation, step: 3, ranks: [1], at: 10)
        ingest(&aggregation, step: 4, ranks: [0, 3], at: 20)
        aggregation.housekeeping(at: 16)  // step 3 partial, step 4 still open
        _ = aggregation.takeStepChanges()
        let loaded = try Aggregation(stateJSON: aggregation.stateJSON(savedAt: 21), parameters: aggregation.parameters)
        let (before, after) = (try split(aggregation), try split(loaded))
        #expect(after.steps == before.steps && after.lastCompleteStep == before.lastCompleteStep)
        #expect(
            after.stepCounts == before.stepCounts
                && before.steps.map(\.status) == [.complete, .complete, .complete, .partial, .open])
        var restored = loaded
        // The event files may hold steps written after the save: the next write starts with a marker.
        let changes = restored.takeStepChanges()
        #expect(changes.first?.changes.purgeFrom == 4 && changes.first?.changes.steps.isEmpty == true)
        // The open step goes on where it stood.
        ingest(&restored, step: 4, ranks: [1, 2], at: 22)
        #expect(try split(restored).steps.last?.status == .complete)
    }
}

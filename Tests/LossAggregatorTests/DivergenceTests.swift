import Foundation
import LossWire
import Testing

@testable import LossAggregator

/// Divergence detection: the rule on sequences of figures, and what the aggregation makes of
/// batches, steps across ranks, error records, snapshots, the exposition and the state file.
@Suite("Divergence")
struct DivergenceTests {
    /// A sequence of figures (NaN for a non-finite one) and the changes it must cause, by index.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var figures: [Double]
        var factor: Double = 10
        var steps: Int = 3
        var changes: [Int: DivergenceDetector.Change]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a falling loss never diverges", figures: [20, 12, 8, 5, 4, 3.5, 3, 2.8], changes: [:]),
        Case(
            name: "three figures in a row above 10x the minimum", figures: [4, 3, 2, 25, 30, 40, 50],
            changes: [5: .diverging(.rising)]),
        Case(
            name: "exactly the threshold is not above", figures: [2, 20, 20, 20, 20.000001, 21, 22],
            changes: [6: .diverging(.rising)]),
        Case(
            name: "a spike shorter than the rule's steps is forgiven", figures: [2, 30, 30, 2, 30, 30, 2],
            changes: [:]),
        Case(
            name: "one figure is enough with steps 1", figures: [2, 1.5, 16], factor: 10, steps: 1,
            changes: [2: .diverging(.rising)]),
        Case(
            name: "a smaller factor fires earlier", figures: [2, 2.5, 4.5, 5, 6], factor: 2, steps: 2,
            changes: [3: .diverging(.rising)]),
        Case(
            name: "a non-finite figure marks at once", figures: [3, 2, .nan, .nan, 2],
            changes: [2: .diverging(.nonfinite)]),
        Case(
            name: "recovers after as many figures within the threshold", figures: [2, 30, 30, 30, 3, 3, 30, 3, 3, 3],
            changes: [3: .diverging(.rising), 9: .recovered(.rising)]),
        Case(
            name: "a non-finite figure recovers the same way", figures: [2, .infinity, 2, 2, 2],
            changes: [1: .diverging(.nonfinite), 4: .recovered(.nonfinite)]),
        Case(
            name: "zero losses do not make a minimum of zero", figures: [0, 0, 5, 4, 0, 3, 6],
            changes: [:]),
        Case(
            name: "diverges again after recovering", figures: [1, 20, 20, 1, 1, 20, 20], steps: 2,
            changes: [2: .diverging(.rising), 4: .recovered(.rising), 6: .diverging(.rising)]),
    ]

    @Test("the rule on a sequence of figures", arguments: cases)
    func rule(_ example: Case) {
        var detector = DivergenceDetector()
        let rule = DivergenceRule(factor: example.factor, steps: example.steps)
        var changes: [Int: DivergenceDetector.Change] = [:]
        for (index, figure) in example.figures.enumerated() {
            if let change = detector.observe(figure, at: index, rule: rule) { changes[index] = change }
        }
        #expect(changes == example.changes)
        let marks = example.changes.values.filter { if case .diverging = $0 { true } else { false } }.count
        #expect(detector.episodes == marks)
    }

    @Test("the running minimum is the smallest positive finite figure; since is where it was marked")
    func minimumAndSince() {
        var detector = DivergenceDetector()
        let rule = DivergenceRule(factor: 4, steps: 2)
        for (step, figure) in [(10, 8.0), (11, 0.0), (12, 2.0), (13, .nan), (14, 9.0), (15, 9.0)] {
            _ = detector.observe(figure, at: step, rule: rule)
        }
        #expect(detector.minimum == 2)
        #expect(detector.reason == .nonfinite && detector.since == 13)
        #expect(detector.threshold(rule) == 8)
    }

    /// `batches` loss records of run `r` without ranks, with the given losses.
    private func aggregation(losses: [Double], rule: DivergenceRule = DivergenceRule()) -> Aggregation {
        var aggregation = Aggregation(parameters: AggregationParameters(divergence: rule), startTime: 0)
        for (seq, loss) in losses.enumerated() {
            aggregation.ingest(Records.loss(seq: seq, loss: loss), at: Double(seq))
        }
        return aggregation
    }

    @Test("batches without ranks: each batch's loss is a figure; the event names the batch and the values")
    func batches() throws {
        var aggregation = aggregation(losses: [5, 4, 3, 31, 40, 50])
        let events = aggregation.takeEvents().events
        let event = try #require(events.first)
        #expect(events.count == 1)
        #expect(event.kind == .diverging && event.reason == .rising && event.figure == .batch)
        #expect(event.run == "r" && event.split == "train" && event.step == nil && event.batches == 6)
        #expect(event.value == 50 && event.minimum == 3 && event.above == 3)
        #expect(aggregation.takeEvents().events.isEmpty, "taken once")
        let split = try #require(aggregation.snapshot(at: 6, steps: 0).splits.first)
        #expect(split.divergence.diverging && split.divergence.reason == .rising && split.divergence.since == 6)
    }

    @Test("steps across ranks: each closing step's mean is a figure, batches are not")
    func steps() throws {
        var aggregation = Aggregation(
            parameters: AggregationParameters(divergence: DivergenceRule(factor: 10, steps: 2)), startTime: 0)
        // The step means are 2, 1.5, then 40 and 45: above 10 × 1.5 twice in a row.
        let sums: [(Double, Double)] = [(4, 4), (3, 3), (80, 80), (90, 90)]
        for (step, (first, second)) in sums.enumerated() {
            for (rank, sum) in [(0, first), (1, second)] {
                aggregation.ingest(
                    Records.rank(
                        rank, of: 2, step: step, stream: "s\(rank)", classificationSum: sum, localizationSum: 0,
                        positives: 2),
                    at: Double(step))
            }
        }
        let events = aggregation.takeEvents().events
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.figure == .stepMean && event.step == 3 && event.value == 45 && event.minimum == 1.5)
    }

    @Test("a step closed partial by its timeout is a figure too")
    func partialStep() throws {
        var aggregation = Aggregation(
            parameters: AggregationParameters(stepTimeout: 1, divergence: DivergenceRule(steps: 1)), startTime: 0)
        aggregation.ingest(
            Records.rank(0, of: 2, step: 0, stream: "a", classificationSum: 2, localizationSum: 0, positives: 1),
            at: 0)
        aggregation.ingest(
            Records.rank(0, of: 2, step: 1, stream: "a", classificationSum: 200, localizationSum: 0, positives: 1),
            at: 0.5)
        #expect(aggregation.takeEvents().events.isEmpty, "steps wait for rank 1")
        aggregation.housekeeping(at: 2)
        let event = try #require(aggregation.takeEvents().events.first)
        #expect(event.figure == .stepMean && event.step == 1 && event.value == 200)
    }

    @Test("an error record with code nonfinite marks the split at once, with the counts per tensor")
    func nonfiniteErrorRecord() throws {
        var aggregation = aggregation(losses: [3, 2])
        let error = WireError.nonfinite(
            counts: ["y_pred": 7, "y_true": 0], labels: BatchLabels(run: "r", split: "train", step: 41, seq: 2))
        aggregation.ingest(.error(error), at: 3)
        aggregation.ingest(Records.error(.badFrames), at: 4)
        let events = aggregation.takeEvents().events
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.reason == .nonfinite && event.figure == .errorRecord && event.step == 41)
        #expect(event.nonfinite == ["y_pred": 7, "y_true": 0])
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "event" && json["event"] as? String == "diverging")
        #expect(json["reason"] as? String == "nonfinite" && json["step"] as? Int == 41)
        let values = try #require(json["values"] as? [String: Any])
        #expect((values["nonfinite"] as? [String: Int])?["y_pred"] == 7)
        #expect(values["minimum"] as? Double == 2 && values["threshold"] as? Double == 20)
    }

    @Test("at most maxPendingEvents events wait; the oldest go first and are counted")
    func pendingEventsAreBounded() {
        // With steps 1, each figure of 100 marks the split and each 1 ends the mark: an event each.
        let count = Aggregation.maxPendingEvents + 76
        var aggregation = aggregation(
            losses: (0...count).map { $0 % 2 == 0 ? 1 : 100 }, rule: DivergenceRule(factor: 10, steps: 1))
        let (events, dropped) = aggregation.takeEvents()
        #expect(events.count == Aggregation.maxPendingEvents && dropped == 76)
        #expect(events.last?.batches == count + 1 && events.first?.batches == 78)
        #expect(aggregation.takeEvents().dropped == 0)
    }

    @Test("the flag is on /metrics and /stats, and survives the state file")
    func exposedAndSaved() throws {
        var aggregation = aggregation(losses: [5, 4, 3, 31, 40, 50], rule: DivergenceRule(factor: 10, steps: 3))
        _ = aggregation.ingest(Records.loss(split: "val", loss: 1), at: 7)
        let metrics = String(decoding: PrometheusExposition.render(aggregation.snapshot(at: 8)), as: UTF8.self)
        #expect(metrics.contains(#"lossd_diverging{run="r",split="train"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"lossd_diverging{run="r",split="val"} 0"#))
        #expect(metrics.contains(#"lossd_divergence_episodes_total{run="r",split="train"} 1"#))
        let stats = String(decoding: aggregation.snapshot(at: 8).jsonLine(), as: UTF8.self)
        #expect(stats.contains(#""divergence":{"#) && stats.contains(#""diverging":true"#))

        let restored = try Aggregation(
            stateJSON: aggregation.stateJSON(savedAt: 8), parameters: aggregation.parameters)
        let split = try #require(restored.snapshot(at: 9).splits.first { $0.split == "train" })
        #expect(split.divergence == aggregation.snapshot(at: 9).splits.first { $0.split == "train" }?.divergence)
        #expect(split.divergence.diverging && split.divergence.minimum == 3 && split.divergence.episodes == 1)
        #expect(restored.parameters.divergence == DivergenceRule(factor: 10, steps: 3))
    }
}

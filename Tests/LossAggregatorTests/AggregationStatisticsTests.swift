import Foundation
import LossWire
import Testing

@testable import LossAggregator

@Suite("Aggregation: statistics against values computed by hand")
struct AggregationStatisticsTests {
    @Test("weighted mean, debiased EMA, window, last, min, max and per-batch means")
    func scriptedSequence() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(emaDecay: 0.5, window: 2), startTime: 0)
        aggregation.ingest(
            Records.loss(batch: 2, loss: 1, classification: 0.6, localization: 0.4, positives: 1, negatives: 3), at: 1)
        aggregation.ingest(
            Records.loss(batch: 4, loss: 2, classification: 1.5, localization: 0.5, positives: 2, negatives: 6), at: 2)
        aggregation.ingest(
            Records.loss(batch: 2, loss: 4, classification: 3, localization: 1, positives: 3, negatives: 9), at: 3)
        let split = try #require(aggregation.snapshot(at: 3).split(run: "r", split: "train"))
        #expect(split.batches == 3)
        #expect(split.samples == 8)
        #expect(isClose(split.positivesPerBatch, 2))
        #expect(isClose(split.negativesPerBatch, 6))
        // mean = (2·1 + 4·2 + 2·4) / 8
        #expect(isClose(split.loss.mean, 18.0 / 8))
        let classificationMean: Double = (2 * 0.6 + 4 * 1.5 + 2 * 3) / 8
        let localizationMean: Double = (2 * 0.4 + 4 * 0.5 + 2 * 1) / 8
        #expect(isClose(split.classification.mean, classificationMean))
        #expect(isClose(split.localization.mean, localizationMean))
        // ema: 0.5, 1.25, 2.625 before debiasing; divided by 1 − 0.5^3 = 0.875
        #expect(isClose(split.loss.ema, 3.0))
        // window of 2: (4·2 + 2·4) / 6
        #expect(isClose(split.loss.window, 16.0 / 6))
        #expect(split.loss.last == 4)
        #expect(split.loss.min == 1)
        #expect(split.loss.max == 4)
        // No epoch given: everything is the current epoch, and there is no previous one.
        #expect(isClose(split.loss.epochMean, 18.0 / 8))
        #expect(split.loss.lastEpochMean == nil)
        #expect(split.epoch == nil)
    }

    @Test("the EMA after one batch is that batch's value (debiasing), and follows the recurrence after")
    func emaDebiasing() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(emaDecay: 0.98), startTime: 0)
        aggregation.ingest(Records.loss(batch: 8, loss: 5), at: 0)
        #expect(isClose(aggregation.snapshot(at: 0).splits[0].loss.ema, 5))
        var raw = 0.02 * 5.0
        for (index, value) in [1.0, 7.0, 2.5, 3.25].enumerated() {
            aggregation.ingest(Records.loss(batch: 3, loss: value), at: 0)
            raw = 0.98 * raw + 0.02 * value
            let expected = raw / (1 - pow(0.98, Double(index + 2)))
            #expect(isClose(aggregation.snapshot(at: 0).splits[0].loss.ema, expected))
        }
    }

    @Test("the window rolls off its oldest batches and stays exact over many of them")
    func windowRollOff() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 3), startTime: 0)
        for (batch, loss) in [(1, 1.0), (1, 2.0), (1, 3.0), (2, 4.0), (1, 5.0)] {
            aggregation.ingest(Records.loss(batch: batch, loss: loss), at: 0)
        }
        // The last three: (1·3 + 2·4 + 1·5) / 4
        #expect(isClose(aggregation.snapshot(at: 0).splits[0].loss.window, 4))

        var long = Aggregation(parameters: AggregationParameters(window: 100), startTime: 0)
        for value in 1...1000 {
            long.ingest(Records.loss(loss: Double(value) * 0.1), at: 0)
        }
        // (90.1 + … + 100.0) / 100 = 95.05
        #expect(isClose(long.snapshot(at: 0).splits[0].loss.window, 95.05, tolerance: 1e-13))
        #expect(isClose(long.snapshot(at: 0).splits[0].loss.mean, 50.05, tolerance: 1e-13))
    }

    @Test("a higher epoch closes the current one; a straggler of an older epoch stays out of the epoch means")
    func epochs() throws {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.loss(epoch: 0, batch: 2, loss: 1), at: 0)
        aggregation.ingest(Records.loss(epoch: 0, batch: 2, loss: 3), at: 0)
        var split = aggregation.snapshot(at: 0).splits[0]
        #expect(split.epoch == 0)
        #expect(isClose(split.loss.epochMean, 2))
        #expect(split.loss.lastEpochMean == nil)

        aggregation.ingest(Records.loss(epoch: 1, batch: 1, loss: 5), at: 0)
        split = aggregation.snapshot(at: 0).splits[0]
        #expect(split.epoch == 1)
        #expect(split.lastEpoch == 0)
        #expect(isClose(split.loss.epochMean, 5))
        #expect(isClose(split.loss.lastEpochMean, 2))

        aggregation.ingest(Records.loss(epoch: 0, batch: 1, loss: 7), at: 0)  // a straggler
        aggregation.ingest(Records.loss(batch: 1, loss: 1), at: 0)  // no epoch: the current one
        split = aggregation.snapshot(at: 0).splits[0]
        #expect(split.staleEpochBatches == 1)
        #expect(isClose(split.loss.epochMean, 3))
        #expect(isClose(split.loss.lastEpochMean, 2))
        #expect(isClose(split.loss.mean, (2 + 6 + 5 + 7 + 1) / 7.0))
    }

    @Test("errors count by code under their (run, split); missing labels take the protocol defaults")
    func errors() throws {
        var aggregation = Aggregation(startTime: 0)
        aggregation.ingest(Records.error(.badFrames), at: 0)
        aggregation.ingest(Records.error(.badFrames), at: 0)
        aggregation.ingest(Records.error(.nonfinite), at: 0)
        aggregation.ingest(Records.error(.badHeader, run: nil, split: nil, source: nil), at: 0)
        let snapshot = aggregation.snapshot(at: 0)
        let split = try #require(snapshot.split(run: "r", split: "train"))
        #expect(split.errors == [.init(code: .badFrames, count: 2), .init(code: .nonfinite, count: 1)])
        #expect(split.batches == 0)
        #expect(split.loss.mean == nil)
        #expect(snapshot.split(run: "default", split: "train")?.errors == [.init(code: .badHeader, count: 1)])
    }

    @Test("non-finite values are counted and kept out of every mean, min and max")
    func nonfinite() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(window: 10), startTime: 0)
        aggregation.ingest(Records.loss(batch: 2, loss: 1, classification: 1, localization: 0), at: 0)
        aggregation.ingest(Records.loss(batch: 2, loss: .nan, classification: .nan, localization: 0.5), at: 0)
        aggregation.ingest(Records.loss(batch: 2, loss: 3, classification: 2, localization: 1), at: 0)
        let split = aggregation.snapshot(at: 0).splits[0]
        #expect(split.nonfinite == 1)
        #expect(split.batches == 3)
        #expect(isClose(split.loss.mean, 2))
        #expect(isClose(split.loss.window, 2))
        #expect(split.loss.max == 3)
        #expect(isClose(split.localization.mean, 0.5))
        #expect(isClose(split.loss.ema, (0.98 * 0.02 * 1 + 0.02 * 3) / (1 - 0.98 * 0.98)))
    }

    @Test("max_keys bounds the (run, split) and (run, source) pairs; the rest counts as overflow")
    func maxKeys() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(maxKeys: 2), startTime: 0)
        #expect(aggregation.ingest(Records.loss(split: "a", loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(split: "b", loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(split: "c", loss: 1), at: 0) == .overflow)
        #expect(aggregation.ingest(Records.error(split: "d"), at: 0) == .overflow)
        #expect(aggregation.ingest(Records.loss(split: "a", loss: 3), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(split: "a", source: "x", seq: 0, loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(split: "a", source: "y", seq: 0, loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(split: "a", source: "z", seq: 0, loss: 1), at: 0) == .overflow)
        let snapshot = aggregation.snapshot(at: 0)
        #expect(snapshot.overflow == 3)
        #expect(snapshot.records == 8)
        #expect(snapshot.splits.map(\.split) == ["a", "b"])
        #expect(snapshot.sources.map(\.source) == ["x", "y"])
        #expect(snapshot.split(run: "r", split: "a")?.batches == 4)
    }

    @Test("lines that are not v1 records are counted as invalid, never fatal")
    func invalidLines() throws {
        let aggregator = Aggregator(startTime: 0)
        let lines = [
            "not json", #"{"v":2,"kind":"loss"}"#, "[1,2]", "", #"{"v":1,"kind":"loss","run":"r"}"#,
            #"{"v":1,"kind":"summary"}"#,
        ]
        for line in lines {
            let (outcome, problem) = Array(line.utf8).withUnsafeBytes { aggregator.ingest(jsonLine: $0, at: 0) }
            #expect(outcome == .invalid)
            #expect(problem != nil)
        }
        let valid = Records.loss(loss: 2).jsonLine()
        #expect(valid.withUnsafeBytes { aggregator.ingest(jsonLine: $0, at: 0).outcome } == .aggregated)
        let snapshot = aggregator.snapshot(at: 0)
        #expect(snapshot.invalid == lines.count)
        #expect(snapshot.records == lines.count + 1)
        #expect(snapshot.splits.count == 1)
    }

    @Test("batches per second follow the arrival times")
    func rates() throws {
        var aggregation = Aggregation(startTime: 0)
        for index in 0..<200 {
            aggregation.ingest(Records.loss(loss: 1), at: Double(index) * 0.1)  // 10 per second for 20 s
        }
        let split = aggregation.snapshot(at: 19.9).splits[0]
        #expect(abs(split.batchesPerSecond - 10) < 0.5, "\(split.batchesPerSecond)")
        #expect(aggregation.snapshot(at: 100).splits[0].batchesPerSecond < 0.01)
    }
}

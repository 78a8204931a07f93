import Foundation
import LossWire
import Testing

@testable import LossAggregator

/// Every `_total` of `/metrics` only goes up, late arrivals and retired streams included
/// (clients/python/tests/test_distributed_e2e.py scrapes a running daemon and runs promtool).
@Suite("Prometheus counters")
struct MonotonicCounterTests {
    /// Every sample of the exposition, by its line's name and labels.
    static func samples(_ aggregation: Aggregation, at time: Double) -> [String: Double] {
        let text = String(decoding: PrometheusExposition.render(aggregation.snapshot(at: time)), as: UTF8.self)
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test("a late arrival raises late_batches_total and lowers only the missing gauge")
    func lateArrival() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(reorderWindow: 2), startTime: 0)
        for seq in [0, 1, 2, 4, 5, 6, 7] { aggregation.ingest(Records.loss(seq: seq, loss: 1), at: 1) }
        let before = Self.samples(aggregation, at: 2)
        let key = #"{run="r",source="s"}"#
        #expect(before["lossd_lost_batches_total" + key] == 1 && before["lossd_missing_batches" + key] == 1)
        aggregation.ingest(Records.loss(seq: 3, loss: 1), at: 3)  // seq 3 arrives after all
        let after = Self.samples(aggregation, at: 4)
        #expect(after["lossd_lost_batches_total" + key] == 1)
        #expect(after["lossd_late_batches_total" + key] == 1 && after["lossd_missing_batches" + key] == 0)
        for (name, value) in before where name.contains("_total") {
            #expect((after[name] ?? -1) >= value, "\(name) went from \(value) to \(after[name] ?? -1)")
        }
    }

    @Test("retiring a stream keeps every count of its source")
    func retirement() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(reorderWindow: 1, streamIdle: 10), startTime: 0)
        for seq in [0, 2, 2] { aggregation.ingest(Records.streamed("gone", seq: seq), at: 1) }
        aggregation.ingest(Records.streamed("here", seq: 0), at: 30)
        let before = Self.samples(aggregation, at: 30)
        aggregation.housekeeping(at: 30)
        let after = Self.samples(aggregation, at: 31)
        let key = #"{run="r",source="s"}"#
        #expect(after["lossd_retired_streams_total" + key] == 1 && after["lossd_streams" + key] == 1)
        #expect(after["lossd_duplicate_batches_total" + key] == 1)
        for (name, value) in before where name.contains("_total") {
            #expect((after[name] ?? -1) >= value, "\(name) went from \(value) to \(after[name] ?? -1)")
        }
    }

    @Test("the step gauges describe the latest complete step, with its number")
    func stepGauges() throws {
        var aggregation = Aggregation(startTime: 0)
        for step in [4, 5] {
            for rank in 0..<2 {
                aggregation.ingest(
                    Records.rank(
                        rank, of: 2, step: step, stream: "s\(rank)", classificationSum: Double(6 + step),
                        localizationSum: 1, positives: 2), at: 1)
            }
        }
        aggregation.ingest(
            Records.rank(0, of: 2, step: 6, stream: "s0", classificationSum: 1, localizationSum: 1, positives: 1), at: 1
        )
        let samples = Self.samples(aggregation, at: 2)
        let labels = #"run="job",split="train""#
        #expect(samples["lossd_step_complete{\(labels)}"] == 5)
        #expect(samples["lossd_step_pooled{\(labels),component=\"classification\"}"] == 22.0 / 4)
        #expect(samples["lossd_step_mean{\(labels),component=\"loss\"}"] == 11.0 / 2 + 1.0 / 2)
        #expect(samples["lossd_open_steps{\(labels)}"] == 1 && samples["lossd_steps_complete_total{\(labels)}"] == 2)
    }
}

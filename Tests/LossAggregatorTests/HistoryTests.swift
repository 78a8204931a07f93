import Foundation
import LossWire
import Testing

@testable import LossAggregator

@Suite("History: downsampled curves per (run, split), saved with the state")
struct HistoryTests {
    /// An aggregation of `count` batches of one split whose loss falls as 1 + 10/(n+1).
    private func falling(_ count: Int, historyPoints: Int, spikeAt spike: Int? = nil) -> Aggregation {
        var aggregation = Aggregation(
            parameters: AggregationParameters(window: 10, historyPoints: historyPoints), startTime: 0)
        for n in 0..<count {
            let loss = n == spike ? 50 : 1 + 10 / Double(n + 1)
            aggregation.ingest(
                Records.loss(step: 100 + n, batch: 2, loss: loss, classification: 0.75 * loss), at: Double(n))
        }
        return aggregation
    }

    @Test(
        "a long run stays within the bound, evenly spaced, with its first and last batch", arguments: [64, 100, 2000])
    func bound(historyPoints: Int) throws {
        for count in [1, 2, 63, 64, 65, 1000, 10_007] {
            let aggregation = falling(count, historyPoints: historyPoints)
            let series = try #require(aggregation.history(at: Double(count)).first)
            let points = series.points
            #expect(points.count <= historyPoints, "\(count) batches")
            #expect(points.count >= min(count, historyPoints / 2 - 1), "\(count) batches: \(points.count) points")
            #expect(points.first?.batches == 1)
            #expect(points.first?.step == 100)
            #expect(points.last?.batches == count)
            #expect(points.last?.step == 100 + count - 1)
            // Stored points sit on multiples of the stride; only the live last one may not.
            for (point, next) in zip(points, points.dropFirst()) {
                #expect(next.batches > point.batches)
            }
            for point in points.dropLast() {
                #expect((point.batches - 1) % series.stride == 0)
            }
            for (point, next) in zip(points.dropLast(), points.dropLast().dropFirst()) {
                #expect(next.batches - point.batches == series.stride)
            }
        }
    }

    @Test("points hold the statistics as they were; the last one holds them now")
    func values() throws {
        let aggregation = falling(5000, historyPoints: 100)
        let series = try #require(aggregation.history(at: 0).first)
        let snapshot = try #require(aggregation.snapshot(at: 0).splits.first)
        let last = try #require(series.points.last)
        #expect(isClose(last.loss.ema, try #require(snapshot.loss.ema)))
        #expect(isClose(last.loss.mean, try #require(snapshot.loss.mean)))
        #expect(isClose(last.classification.window, try #require(snapshot.classification.window)))
        // The first point is the first batch: 1 + 10/1, every statistic equal to it.
        let first = try #require(series.points.first)
        #expect(first.loss.mean == 11)
        #expect(first.loss.ema == 11)
        #expect(first.loss.window == 11)
        #expect(first.classification.ema == 8.25)
        // The EMA falls: the curve's shape survives downsampling.
        let emas = series.points.compactMap(\.loss.ema)
        #expect(emas.count == series.points.count)
        #expect(zip(emas, emas.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test("the per-batch range keeps a single spike however far the history is downsampled")
    func spike() throws {
        let aggregation = falling(20_000, historyPoints: 32, spikeAt: 12_345)
        let points = try #require(aggregation.history(at: 0).first).points
        #expect(points.count <= 32)
        #expect(points.compactMap(\.loss.high).max() == 50)
        let holding = try #require(points.first { $0.loss.high == 50 })
        #expect(holding.batches <= 12_346)
        // Everything else stays within the falling curve.
        #expect(points.compactMap(\.loss.low).min().map { $0 >= 1 } == true)
    }

    @Test("each point counts the split's error records and the run's lost batches")
    func counters() throws {
        var aggregation = Aggregation(
            parameters: AggregationParameters(reorderWindow: 2, historyPoints: 100), startTime: 0)
        aggregation.ingest(Records.loss(source: "a", seq: 0, loss: 3), at: 0)
        aggregation.ingest(Records.error(.badFrames, source: "a", seq: 1), at: 1)
        aggregation.ingest(Records.loss(source: "a", seq: 10, loss: 2), at: 2)  // 2…7 fall below 10 − 2: lost
        aggregation.ingest(Records.loss(source: "b", seq: 5, loss: 2), at: 3)  // 0…2 of b: lost
        aggregation.ingest(Records.loss(source: "a", seq: 3, loss: 2), at: 4)  // late: off the lost count
        let points = try #require(aggregation.history(at: 5).first).points
        #expect(points.map(\.errors) == [0, 1, 1, 1])
        #expect(points.map(\.lost) == [0, 6, 9, 8])
        #expect(aggregation.snapshot(at: 5).sources.reduce(0) { $0 + $1.lost } == 8)
        aggregation.countPendingAsLost()
        #expect(
            aggregation.history(at: 6).first?.points.last?.lost
                == aggregation.snapshot(at: 6).sources.reduce(0) { $0 + $1.lost })
    }

    @Test("the history is saved with the state and continues identically after a restore")
    func stateRoundTrip() throws {
        var original = falling(3000, historyPoints: 50, spikeAt: 1234)
        var restored = try Aggregation(stateJSON: original.stateJSON(savedAt: 1), parameters: original.parameters)
        #expect(restored.history(at: 1) == original.history(at: 1))
        for n in 0..<777 {
            let record = Records.loss(step: n, batch: 2, loss: 1 + Double(n % 7))
            original.ingest(record, at: 5000)
            restored.ingest(record, at: 5000)
        }
        #expect(restored.history(at: 2) == original.history(at: 2))
        #expect(restored.stateJSON(savedAt: 3) == original.stateJSON(savedAt: 3))
    }

    @Test("a state file saved without history loads, and the history starts from there")
    func stateWithoutHistory() throws {
        let original = falling(300, historyPoints: 50)
        guard case .object(var root) = try JSONValue(parsing: original.stateJSON(savedAt: 1)),
            case .array(var splits)? = root["splits"], case .object(var split) = splits[0]
        else {
            Issue.record("the state is not shaped as expected")
            return
        }
        split["history"] = nil
        splits[0] = .object(split)
        root["splits"] = .array(splits)
        var writer = JSONWriter()
        writer.value(.object(root))
        var restored = try Aggregation(stateJSON: writer.bytes, parameters: original.parameters)
        let before = try #require(restored.history(at: 1).first)
        #expect(before.points.count == 1)  // the live point only
        #expect(before.points.first?.batches == 300)
        #expect(isClose(before.points.first?.loss.mean, try #require(original.snapshot(at: 1).splits.first?.loss.mean)))
        for _ in 0..<500 { restored.ingest(Records.loss(batch: 2, loss: 1), at: 2) }
        let after = try #require(restored.history(at: 2).first)
        #expect(after.points.count <= 50)
        #expect(after.points.first?.batches == 301)
        #expect(after.points.last?.batches == 800)
    }

    @Test("a state restored with fewer history points is downsampled to fit")
    func fewerPoints() throws {
        let original = falling(1000, historyPoints: 2000)
        var parameters = original.parameters
        parameters.historyPoints = 40
        let restored = try Aggregation(stateJSON: original.stateJSON(savedAt: 1), parameters: parameters)
        let points = try #require(restored.history(at: 1).first).points
        #expect(points.count <= 40)
        #expect(points.first?.batches == 1)
        #expect(points.last?.batches == 1000)
    }

    @Test("damaged history entries are refused with their path")
    func damagedHistory() throws {
        let text = String(decoding: falling(10, historyPoints: 50).stateJSON(savedAt: 1), as: UTF8.self)
        for (from, to) in [
            ("\"stride\":1", "\"stride\":0"), ("\"points\":[[0,1,", "\"points\":[[0,\"x\","),
            ("\"points\":[[0,", "\"points\":[[9,"),
        ] {
            let damaged = text.replacingOccurrences(of: from, with: to)
            #expect(damaged != text, "\(from)")
            let error = #expect(throws: AggregatorStateError.self) {
                _ = try Aggregation(stateJSON: Array(damaged.utf8), parameters: AggregationParameters())
            }
            #expect("\(error.map { "\($0)" } ?? "")".contains("history"), "\(from)")
        }
    }
}

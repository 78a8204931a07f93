import Foundation
import LossWire
import Testing

@testable import LossAggregator

/// Seq accounting per (run, source, stream): restarts are new streams, never duplicates; idle
/// streams retire without any count going down; the state file keeps them.
@Suite("Streams")
struct StreamAccountingTests {
    @Test("two senders with streams on one source: twice the batches, no duplicate")
    func twoStreams() {
        var aggregation = Aggregation(startTime: 0)
        for seq in 0..<20 {
            aggregation.ingest(Records.streamed("a1", seq: seq), at: 1)
            aggregation.ingest(Records.streamed("b2", seq: seq), at: 1)
        }
        let snapshot = aggregation.snapshot(at: 2)
        #expect(snapshot.splits.first?.batches == 40)
        let source = snapshot.source(run: "r", source: "s")
        #expect(source?.duplicates == 0 && source?.lost == 0 && source?.streams == 2)
    }

    @Test("without streams, the same seqs from one source are duplicates, as before")
    func withoutStreams() {
        var aggregation = Aggregation(startTime: 0)
        for seq in 0..<20 {
            aggregation.ingest(Records.loss(seq: seq, loss: 1), at: 1)
            aggregation.ingest(Records.loss(seq: seq, loss: 1), at: 1)
        }
        let snapshot = aggregation.snapshot(at: 2)
        #expect(snapshot.splits.first?.batches == 20)
        #expect(snapshot.source(run: "r", source: "s")?.duplicates == 20)
        #expect(snapshot.source(run: "r", source: "s")?.stream == nil)
    }

    @Test("a sender that restarts (seq from 0 on a new stream) is counted, not duplicated")
    func restart() {
        var aggregation = Aggregation(startTime: 0)
        for seq in 0..<20 { aggregation.ingest(Records.streamed("first", seq: seq), at: 1) }
        for seq in 0..<20 { aggregation.ingest(Records.streamed("second", seq: seq), at: 2) }
        let source = aggregation.snapshot(at: 3).source(run: "r", source: "s")
        #expect(aggregation.snapshot(at: 3).splits.first?.batches == 40)
        #expect(source?.duplicates == 0 && source?.stream == "second" && source?.highestSeq == 19)
    }

    @Test("an idle stream retires: its gaps count as lost, and no count of its source goes down")
    func idleRetirement() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(reorderWindow: 4, streamIdle: 60), startTime: 0)
        for seq in [0, 1, 2, 4, 5] { aggregation.ingest(Records.streamed("old", seq: seq), at: 10) }
        aggregation.ingest(Records.streamed("old", seq: 5), at: 10)  // a duplicate
        for seq in 0..<3 { aggregation.ingest(Records.streamed("new", seq: seq), at: 50) }
        var source = try #require(aggregation.snapshot(at: 50).source(run: "r", source: "s"))
        #expect(source.pending == 1 && source.lost == 0 && source.duplicates == 1 && source.streams == 2)
        aggregation.housekeeping(at: 71)  // "old" idle 61 s, "new" 21 s
        source = try #require(aggregation.snapshot(at: 71).source(run: "r", source: "s"))
        #expect(source.streams == 1 && source.retiredStreams == 1)
        #expect(source.lost == 1 && source.lostTotal == 1 && source.duplicates == 1 && source.pending == 0)
        // It comes back after all: a new tracker, as a new stream would be; its seqs below the
        // reorder window count as lost again (the documented cost of an idle limit set too low).
        aggregation.ingest(Records.streamed("old", seq: 6), at: 80)
        source = try #require(aggregation.snapshot(at: 80).source(run: "r", source: "s"))
        #expect(source.lostTotal >= 1 && source.duplicates == 1)
    }

    @Test("at max_streams, a new stream retires the one idle longest; records without a stream are never retired")
    func maxStreams() throws {
        var aggregation = Aggregation(parameters: AggregationParameters(maxStreams: 2), startTime: 0)
        aggregation.ingest(Records.loss(seq: 0, loss: 1), at: 0)
        aggregation.ingest(Records.streamed("a", seq: 0), at: 1)
        aggregation.ingest(Records.streamed("b", seq: 0), at: 2)
        aggregation.ingest(Records.streamed("c", seq: 0), at: 3)
        let account = try #require(aggregation.sources[SourceKey(run: "r", source: "s")])
        #expect(Set(account.streams.keys) == ["", "b", "c"])
        #expect(account.retired.streams == 1 && aggregation.streamCount == 2)
    }

    @Test("streams, their last activity and the retired counts survive the state file")
    func stateRoundTrip() throws {
        var aggregation = Aggregation(
            parameters: AggregationParameters(reorderWindow: 2, streamIdle: 100), startTime: 0)
        for seq in [0, 2] { aggregation.ingest(Records.streamed("x", seq: seq), at: 5) }
        for seq in [0, 1] { aggregation.ingest(Records.streamed("y", seq: seq), at: 500) }
        aggregation.ingest(Records.loss(seq: 3, loss: 1), at: 500)
        aggregation.housekeeping(at: 200)  // "x" retires: seq 1 pending, now lost
        let saved = aggregation.stateJSON(savedAt: 600)
        let loaded = try Aggregation(stateJSON: saved, parameters: aggregation.parameters)
        #expect(loaded.snapshot(at: 600).sources == aggregation.snapshot(at: 600).sources)
        #expect(loaded.sources == aggregation.sources)
        #expect(loaded.streamCount == 1)
        let text = String(decoding: saved, as: UTF8.self)
        #expect(text.contains(#""retired_streams":[{"#) && text.contains(#""stream":"y""#))
    }
}

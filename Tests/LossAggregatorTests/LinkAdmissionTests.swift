import LossWire
import Testing

@testable import LossAggregator

@Suite("Record links: each link seq is ingested once, in order")
struct LinkAdmissionTests {
    private func line(seq: Int?) -> [UInt8] {
        Records.loss(seq: seq, loss: 1).jsonLine()
    }

    private func ingest(
        _ aggregator: Aggregator, link: String = "l1", seq: UInt64, first: UInt64 = 0, recordSeq: Int? = nil
    ) -> Aggregation.LinkAdmission {
        line(seq: recordSeq).withUnsafeBytes { bytes in
            aggregator.ingest(linkRecord: bytes, link: link, seq: seq, first: first, at: 100).admission
        }
    }

    @Test func resendsAreDroppedAndGapsAsked() {
        let aggregator = Aggregator(parameters: AggregationParameters(), startTime: 0)
        #expect(ingest(aggregator, seq: 0) == .ingest)
        #expect(ingest(aggregator, seq: 1) == .ingest)
        #expect(ingest(aggregator, seq: 1) == .alreadyIngested)
        #expect(ingest(aggregator, seq: 3) == .gap(expected: 2))
        #expect(ingest(aggregator, seq: 2) == .ingest)
        #expect(ingest(aggregator, seq: 3) == .ingest)
        #expect(aggregator.linkNext("l1") == 4)
        // Records without a seq are counted once too: the link seq is what dedupes them.
        let snapshot = aggregator.snapshot(at: 100)
        #expect(snapshot.records == 4)
        #expect(snapshot.sources.reduce(0) { $0 + $1.duplicates } == 0)
    }

    @Test func anUnknownLinkStartsWhereItsSenderHoldsRecords() {
        let aggregator = Aggregator(parameters: AggregationParameters(), startTime: 0)
        #expect(ingest(aggregator, link: "new", seq: 50, first: 50) == .ingest)
        #expect(aggregator.linkNext("new") == 51)
        // A sender that forgot seqs the aggregator has not seen: continue where it holds.
        #expect(ingest(aggregator, link: "new", seq: 60, first: 60) == .ingest)
        #expect(aggregator.syncLink("other", first: 7, at: 1) == 7)
    }

    @Test func theLinkPositionsAreSavedWithTheStatistics() throws {
        let aggregator = Aggregator(parameters: AggregationParameters(), startTime: 0)
        for seq in 0..<5 { _ = ingest(aggregator, seq: UInt64(seq), recordSeq: seq) }
        let saved = aggregator.aggregation
        let restored = Aggregator(
            try Aggregation(stateJSON: saved.stateJSON(savedAt: 100), parameters: saved.parameters))
        #expect(restored.linkNext("l1") == 5)
        // After a restart from that state, a resend of what it holds is dropped, the rest taken.
        #expect(ingest(restored, seq: 4, recordSeq: 4) == .alreadyIngested)
        #expect(ingest(restored, seq: 5, recordSeq: 5) == .ingest)
        let snapshot = restored.snapshot(at: 100)
        #expect(snapshot.sources.first?.duplicates == 0)
        #expect(snapshot.splits.first?.batches == 6)
    }
}

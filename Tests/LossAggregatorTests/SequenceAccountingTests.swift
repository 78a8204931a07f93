import LossWire
import Testing

@testable import LossAggregator

@Suite("Aggregation: lost, duplicate and late batches per (run, source)")
struct SequenceAccountingTests {
    private func aggregation(reorderWindow: Int) -> Aggregation {
        Aggregation(parameters: AggregationParameters(reorderWindow: reorderWindow), startTime: 0)
    }

    private func ingest(_ aggregation: inout Aggregation, seqs: [Int], source: String = "s") -> [Aggregation.Outcome] {
        seqs.map { aggregation.ingest(Records.loss(source: source, seq: $0, loss: Double($0)), at: 0) }
    }

    @Test("reordering inside the window loses nothing; a repeat is a duplicate and is not aggregated")
    func reorderInsideWindow() throws {
        var aggregation = aggregation(reorderWindow: 4)
        #expect(ingest(&aggregation, seqs: [0, 1, 2, 4, 3]) == Array(repeating: .aggregated, count: 5))
        #expect(ingest(&aggregation, seqs: [3]) == [.duplicate])
        let snapshot = aggregation.snapshot(at: 0)
        let source = try #require(snapshot.source(run: "r", source: "s"))
        #expect(source.lost == 0)
        #expect(source.duplicates == 1)
        #expect(source.pending == 0)
        #expect(source.highestSeq == 4)
        #expect(snapshot.splits[0].batches == 5)
        #expect(isClose(snapshot.splits[0].loss.mean, 2))  // (0+1+2+4+3)/5: the duplicate is not counted
    }

    @Test("a seq more than the window below the highest is lost; arriving later it is aggregated and un-counted")
    func beyondWindowAndLate() throws {
        var aggregation = aggregation(reorderWindow: 4)
        _ = ingest(&aggregation, seqs: [0, 1, 2, 3, 4, 10])
        var source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 1)  // 5 < 10 − 4; 6…9 are still pending
        #expect(source.pending == 4)
        #expect(ingest(&aggregation, seqs: [6, 5, 5]) == [.aggregated, .late, .duplicate])
        source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 0)
        #expect(source.late == 1)
        #expect(source.duplicates == 1)
        #expect(source.pending == 3)
        #expect(aggregation.snapshot(at: 0).splits[0].batches == 8)

        // Shutdown: every gap counts.
        aggregation.countPendingAsLost()
        source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 3)
        #expect(source.pending == 0)
        // A gap that shows up after all is still real data.
        #expect(ingest(&aggregation, seqs: [8]) == [.late])
        #expect(aggregation.snapshot(at: 0).source(run: "r", source: "s")?.lost == 2)
    }

    @Test("a first seq far from 0 counts the seqs below the window as lost at once")
    func jumpAhead() throws {
        var aggregation = aggregation(reorderWindow: 1024)
        _ = ingest(&aggregation, seqs: [5000])
        var source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 5000 - 1024)
        #expect(source.pending == 1024)
        _ = ingest(&aggregation, seqs: [1_000_000_000])
        source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 1_000_000_000 - 1024 - 1)
        #expect(source.pending == 1024)
    }

    @Test("a lost seq is remembered for a bounded span; beyond it an old seq is taken as a duplicate")
    func boundedMemory() throws {
        var aggregation = aggregation(reorderWindow: 4)  // remembers max(4·4, 4096) seqs below the window
        _ = ingest(&aggregation, seqs: [0, 5000])
        #expect(aggregation.snapshot(at: 0).source(run: "r", source: "s")?.lost == 4995)
        #expect(ingest(&aggregation, seqs: [0, 899, 900, 4995]) == [.duplicate, .duplicate, .late, .late])
        let source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 4993)
        #expect(source.duplicates == 2)
        #expect(source.late == 2)
    }

    @Test("an error record's seq counts as seen; records without seq are always aggregated")
    func errorsAndNoSeq() throws {
        var aggregation = aggregation(reorderWindow: 4)
        #expect(aggregation.ingest(Records.error(.nonfinite, seq: 0), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(seq: 0, loss: 1), at: 0) == .duplicate)
        #expect(aggregation.ingest(Records.error(.nonfinite, seq: 0), at: 0) == .duplicate)
        for _ in 0..<3 {
            #expect(aggregation.ingest(Records.loss(loss: 2), at: 0) == .aggregated)
        }
        let snapshot = aggregation.snapshot(at: 0)
        #expect(snapshot.splits[0].batches == 3)
        #expect(snapshot.splits[0].errors == [.init(code: .nonfinite, count: 1)])
        #expect(snapshot.source(run: "r", source: "s")?.duplicates == 2)
    }

    @Test("seqs are counted per (run, source): the same seq from another source or run is new")
    func perSource() throws {
        var aggregation = aggregation(reorderWindow: 4)
        #expect(aggregation.ingest(Records.loss(run: "a", source: "x", seq: 0, loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(run: "a", source: "y", seq: 0, loss: 1), at: 0) == .aggregated)
        #expect(aggregation.ingest(Records.loss(run: "b", source: "x", seq: 0, loss: 1), at: 0) == .aggregated)
        #expect(
            aggregation.ingest(Records.loss(run: "a", split: "val", source: "x", seq: 0, loss: 1), at: 0) == .duplicate)
        #expect(aggregation.snapshot(at: 0).sources.count == 3)
    }

    @Test("a reorder window of 0 counts any gap as lost at once, and still recognizes late arrivals")
    func zeroWindow() throws {
        var aggregation = aggregation(reorderWindow: 0)
        #expect(ingest(&aggregation, seqs: [0, 2, 1, 1]) == [.aggregated, .aggregated, .late, .duplicate])
        let source = try #require(aggregation.snapshot(at: 0).source(run: "r", source: "s"))
        #expect(source.lost == 0)
        #expect(source.late == 1)
        #expect(source.duplicates == 1)
    }
}

import Foundation
import Logging
import LossWire
import Testing

@testable import LossAggregator

@Suite("Aggregator state: saved, loaded, damaged")
struct AggregatorStateTests {
    /// A scripted aggregation touching every kind of state: epochs, errors, windows, lost and late seqs.
    private func scripted(
        _ parameters: AggregationParameters = AggregationParameters(window: 4, reorderWindow: 4)
    ) -> Aggregation {
        var aggregation = Aggregation(parameters: parameters, startTime: 1000)
        for seq in [0, 1, 2, 5, 3, 12, 6] {
            aggregation.ingest(
                Records.loss(
                    source: "rank0", seq: seq, epoch: seq / 4, step: seq, batch: 1 + seq % 3,
                    loss: 1 + Double(seq) * 0.25), at: 1001)
        }
        aggregation.ingest(
            Records.loss(split: "val", loss: .nan, classification: 0.5, localization: .infinity), at: 1002)
        aggregation.ingest(Records.error(.nonfinite, source: "rank0", seq: 13), at: 1003)
        aggregation.ingest(Records.error(.badHeader, run: nil, split: nil, source: nil), at: 1003)
        aggregation.ingestInvalid(at: 1004)
        return aggregation
    }

    /// A snapshot's JSON without the rates, which are not saved (JSON, because NaN ≠ NaN).
    private func withoutRates(_ snapshot: AggregatorSnapshot) -> String {
        var snapshot = snapshot
        snapshot.recordsPerSecond = 0
        for index in snapshot.splits.indices { snapshot.splits[index].batchesPerSecond = 0 }
        return String(decoding: snapshot.jsonLine(), as: UTF8.self)
    }

    @Test("a saved state restores every statistic, and both copies go on identically")
    func roundTrip() throws {
        var original = scripted()
        var restored = try Aggregation(stateJSON: original.stateJSON(savedAt: 1005), parameters: original.parameters)
        #expect(withoutRates(restored.snapshot(at: 1005)) == withoutRates(original.snapshot(at: 1005)))
        // 4, 6 and 7 fell below 12 − 4 unseen, then 8 below 13 − 4; 6 arrived late.
        #expect(restored.snapshot(at: 1005).source(run: "r", source: "rank0")?.lost == 3)
        #expect(restored.snapshot(at: 1005).source(run: "r", source: "rank0")?.late == 1)
        for seq in [4, 9, 10, 11, 13, 14] {
            let record = Records.loss(source: "rank0", seq: seq, epoch: seq / 4, batch: 2, loss: Double(seq))
            #expect(original.ingest(record, at: 1006) == restored.ingest(record, at: 1006))
        }
        original.countPendingAsLost()
        restored.countPendingAsLost()
        #expect(withoutRates(restored.snapshot(at: 1007)) == withoutRates(original.snapshot(at: 1007)))
        #expect(restored.stateJSON(savedAt: 1) == original.stateJSON(savedAt: 1))
    }

    @Test("a state saved with other parameters continues with the new ones")
    func newParameters() throws {
        let original = scripted()
        let wider = AggregationParameters(emaDecay: 0.9, window: 2, reorderWindow: 2, maxKeys: 2)
        let restored = try Aggregation(stateJSON: original.stateJSON(savedAt: 0), parameters: wider)
        let snapshot = restored.snapshot(at: 0)
        #expect(snapshot.parameters == wider)
        // max_keys 2 keeps the first two (run, split) pairs in order: default/train and r/train, not r/val.
        #expect(snapshot.splits.map(\.split) == ["train", "train"])
        // The window keeps the newest two batches of the saved four: seq 12 (batch 1, loss 4) and
        // seq 6 (batch 1, loss 2.5).
        #expect(isClose(snapshot.split(run: "r", split: "train")?.loss.window, 3.25))
        #expect(snapshot.split(run: "r", split: "train")?.batches == 7)
    }

    @Test(
        "damaged state files are refused with a reason",
        arguments: [
            "", "not json", "[]", #"{"v":1,"kind":"something else"}"#, #"{"v":2,"kind":"lossd-aggregate-state"}"#,
            #"{"v":1,"kind":"lossd-aggregate-state","start_time":0,"records":1,"invalid":0,"overflow":0,"#
                + #""splits":[{}],"sources":[]}"#,
        ])
    func damaged(text: String) throws {
        #expect(throws: AggregatorStateError.self) {
            _ = try Aggregation(stateJSON: Array(text.utf8), parameters: AggregationParameters())
        }
    }

    @Test("a truncated state file is refused")
    func truncated() throws {
        let bytes = scripted().stateJSON(savedAt: 0)
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 50)) {
            #expect(throws: AggregatorStateError.self) {
                _ = try Aggregation(stateJSON: Array(bytes[..<length]), parameters: AggregationParameters())
            }
        }
    }

    @Test("the state file is replaced atomically and loaded back; a damaged one is moved aside")
    func stateFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("state.json").path
        let file = AggregatorStateFile(path: path)
        let logger = Logger(label: "test")
        let parameters = AggregationParameters(window: 4, reorderWindow: 4)

        let fresh = try file.load(parameters: parameters, now: 5, logger: logger)
        #expect(fresh.records == 0)
        #expect(fresh.startTime == 5)

        let original = scripted(parameters)
        try file.save(original, now: 10)
        try file.save(original, now: 11)
        let loaded = try file.load(parameters: parameters, now: 20, logger: logger)
        #expect(withoutRates(loaded.snapshot(at: 20)) == withoutRates(original.snapshot(at: 20)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["state.json"])

        try Data("{\"v\":1,\"kind\":\"lossd-aggr".utf8).write(to: URL(fileURLWithPath: path))
        let afterDamage = try file.load(parameters: parameters, now: 30, logger: logger)
        #expect(afterDamage.records == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
        let aside = folder.appendingPathComponent("state.json.damaged-30").path
        #expect(FileManager.default.fileExists(atPath: aside))
    }
}

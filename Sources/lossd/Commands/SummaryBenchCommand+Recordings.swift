import Foundation
import LossBench
import LossWire
import ZeroMQ

extension SummaryBenchCommand {
    /// The replay and recording targets: `lossd bench replay` and `lossd bench record` with their
    /// defaults (16 and 30 SSD300 batches, format version 2, the temporary folder). Returns the
    /// target rows and the two tables.
    func recordingTargets(emit: (String) -> Void) async throws -> (rows: [BenchReport.TargetRow], tables: [String]) {
        let replayRepetitions = max(5, repetitions / 2)
        let replay = try await SocketThread<ReplayBenchmark.Result>.run(name: "bench-replay") {
            try ReplayBenchmark(workers: [1, 2], repetitions: replayRepetitions).run()
        }
        emit(BenchReport.json(replay))
        let record = try await RecordBenchmark(workers: Terminal.cores, repetitions: 3).run()
        emit(BenchReport.json(record))

        let size = String(format: "%.2f GB", Double(replay.fileBytes) / 1e9)
        let workers = min(2, Terminal.cores)
        let ratio = replay.ratio(workers: workers) ?? .infinity
        let speedup = replay.speedup(from: 1, to: 2) ?? 0
        let rows: [BenchReport.TargetRow] = [
            .init(
                what: "replay, \(replay.batches) SSD300 batches (\(size), version 2), \(workers) workers",
                measured: ratio, unit: "× (page-cache read + kernel)", target: "≤ 1.5", met: ratio <= 1.5),
            .init(
                what: "replay, 2 workers against 1", measured: speedup, unit: "× as fast", target: "> 1",
                met: speedup > 1),
            .init(
                what: "sidecar over tcp with --record, keras float32 (\(record.benchmark.messages) batches)",
                measured: record.ratio, unit: "× the lesser of no --record and the disk", target: "≥ 0.8",
                met: record.ratio >= 0.8),
        ]
        return (rows, [BenchReport.table(replay), BenchReport.table(record)])
    }
}

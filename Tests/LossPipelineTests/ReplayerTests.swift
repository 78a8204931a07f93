import Foundation
import LossWire
import LossdTestSupport
import SSDLoss
import Testing

@testable import LossPipeline

/// The replayer: records verified and computed on the workers, written in recording order, and a
/// damaged record ending its file exactly where a reader on one thread would stop.
@Suite("Replayer", .timeLimit(.minutes(1)))
struct ReplayerTests {

    /// A recording of `count` small valid batches, seq 0, 1, 2, …; the byte offset of each record.
    private static func write(
        _ path: String, version: RecordingFormat.Version, count: Int, run: String = "replay"
    ) throws -> [UInt64] {
        let writer = try RecordingWriter(path: path, version: version, bufferCapacity: 4096)
        var offsets: [UInt64] = []
        for seq in 0..<count {
            let header = BatchHeader(shape: BatchShape(batch: 2, boxes: 6, classes: 3), run: run, seq: seq)
            var frames = [header.jsonBytes()] + header.tensors.map { [UInt8](repeating: 0, count: $0.byteCount ?? 0) }
            // One-hot truth (box 0 of each image an object, the rest background) and uniform
            // predictions: a finite loss.
            var truth = [Float](repeating: 0, count: 2 * 6 * 15)
            for box in 0..<(2 * 6) { truth[15 * box + (box % 6 == 0 ? 1 : 0)] = 1 }
            frames[1] = floats(truth)
            frames[2] = floats([Float](repeating: 1.0 / 3.0, count: 2 * 6 * 15))
            offsets.append(writer.byteCount)
            try writer.append(WireMessage(copying: frames, receiveTimeNs: UInt64(seq + 1)))
        }
        try writer.close()
        return offsets
    }

    private static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    /// Flips one byte of the file at `offset`.
    private static func damage(_ path: String, at offset: UInt64) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: [byte ^ 0x20])
        try handle.close()
    }

    /// Records what the emitter writes.
    private final class Collector: RecordSink, @unchecked Sendable {
        // Written by the pool's emitter thread only; read after the replay has returned.
        var records: [ResultRecord] = []
        func write(_ record: ResultRecord) throws { records.append(record) }
        func close() throws {}
    }

    private func replay(_ files: [String], workers: Int) -> (Replayer.Outcome, [ResultRecord]) {
        let sink = Collector()
        let replayer = Replayer(
            options: ReplayOptions(files: files, workers: workers, queueDepth: 2 * workers, processor: BatchProcessor())
        )
        let outcome = replayer.run(sink: sink)
        return (outcome, sink.records)
    }

    private func seqs(_ records: [ResultRecord]) -> [Int?] {
        records.map { record in
            guard case .loss(let loss) = record else { return nil }
            return loss.seq
        }
    }

    @Test(
        "every record, computed, in recording order with any number of workers",
        arguments: RecordingFormat.Version.allCases, [1, 2, 4])
    func everyRecordInOrder(version: RecordingFormat.Version, workers: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("run.lossrec")
        _ = try Self.write(path, version: version, count: 30)
        let (outcome, records) = replay([path], workers: workers)
        #expect(outcome.isComplete)
        #expect(seqs(records) == Array(0..<30))
        #expect(outcome.summary.computed == 30)
        #expect(outcome.files == [ReplayFileReport(path: path, records: 30, damage: nil)])
    }

    /// Records after the first damaged one are read and handed out before a worker finds the
    /// damage; none of them may be written, and the file's report is the reader's: its offset and
    /// the good records before it. The next file is replayed whole.
    @Test(
        "a damaged payload ends its file at that record, whatever was in flight; the next file goes on",
        arguments: RecordingFormat.Version.allCases, [1, 2, 4])
    func damagedPayloadEndsItsFile(version: RecordingFormat.Version, workers: Int) throws {
        let directory = try TemporaryDirectory()
        let damaged = directory.path("damaged.lossrec"), intact = directory.path("intact.lossrec")
        let offsets = try Self.write(damaged, version: version, count: 30)
        _ = try Self.write(intact, version: version, count: 5, run: "next")
        // Inside the tensors of records 11 and 20: the first in file order is the one reported.
        try Self.damage(damaged, at: offsets[11] + 300)
        try Self.damage(damaged, at: offsets[20] + 300)

        let (outcome, records) = replay([damaged, intact], workers: workers)
        #expect(!outcome.isComplete)
        #expect(seqs(records) == Array(0..<11) + Array(0..<5))
        #expect(outcome.summary.computed == 16)
        #expect(outcome.files.map(\.records) == [11, 5])
        let damage = try #require(outcome.files.first?.damage)
        #expect(damage.offset == Int(offsets[11]))
        #expect(damage.message.contains("at byte \(offsets[11]), after 11 good records"))
        #expect(damage.message.contains(version == .v1 ? "CRC-32 " : "CRC-32C "))
        #expect(outcome.files.last?.damage == nil)

        // The same file read on one thread stops at the same place.
        let reader = try RecordingReader(path: damaged)
        var good = 0
        #expect(throws: RecordingError.self) { while try reader.next() != nil { good += 1 } }
        #expect(good == 11 && reader.byteOffset == offsets[11])
    }

    @Test(
        "a truncated file: the records before the cut, and the reader's offset",
        arguments: RecordingFormat.Version.allCases)
    func truncatedFile(version: RecordingFormat.Version) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("cut.lossrec")
        let offsets = try Self.write(path, version: version, count: 8)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: offsets[6] + 100)
        try handle.close()
        let (outcome, records) = replay([path], workers: 2)
        #expect(seqs(records) == Array(0..<6))
        #expect(
            outcome.files == [
                ReplayFileReport(path: path, records: 6, damage: outcome.files.first?.damage)
            ])
        #expect(outcome.files.first?.damage?.offset == Int(offsets[6]))
        #expect(outcome.files.first?.damage?.message.contains("ends inside the record") == true)
    }

    @Test("a file that cannot be opened is reported at offset 0 and the others are replayed")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("run.lossrec")
        _ = try Self.write(path, version: .v2, count: 3)
        let missing = directory.path("missing.lossrec")
        let (outcome, records) = replay([missing, path], workers: 2)
        #expect(seqs(records) == [0, 1, 2])
        #expect(outcome.files.map(\.records) == [0, 3])
        #expect(outcome.files.first?.damage?.offset == 0)
    }
}

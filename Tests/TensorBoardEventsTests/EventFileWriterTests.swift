import Checksums
import Foundation
import Testing

@testable import TensorBoardEvents

/// The event files read back record by record: framing, checksums, and the Event messages.
/// (clients/python/tests/test_distributed_e2e.py reads them with TensorBoard's own reader.)
@Suite("TensorBoard event files")
struct EventFileWriterTests {
    /// The records of a TFRecord file, each checked against its two masked CRC-32Cs.
    static func records(of bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        func u32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while offset < bytes.count {
            try #require(bytes.count - offset >= TFRecord.overheadBytes)
            let lengthBytes = Array(bytes[offset..<offset + 8])
            let length = Int(lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            #expect(u32(offset + 8) == CRC32C.maskedChecksum(lengthBytes))
            let data = Array(bytes[offset + 12..<offset + 12 + length])
            #expect(u32(offset + 12 + length) == CRC32C.maskedChecksum(data))
            records.append(data)
            offset += 12 + length + 4
        }
        return records
    }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("lossd-events-\(UUID().uuidString)").path
    }

    @Test("a record is length, masked CRC of the length, data, masked CRC of the data")
    func framing() throws {
        let data: [UInt8] = Array("brain.Event:2".utf8)
        let record = TFRecord.frame(data)
        #expect(record.count == data.count + 16)
        #expect(Array(record[0..<8]) == [13, 0, 0, 0, 0, 0, 0, 0])
        #expect(try Self.records(of: record) == [data])
        // An empty record's length is eight zero bytes: CRC-32C 0x8C28B28A (Python's crc32c
        // package), stored masked as 0x07980329.
        let empty = TFRecord.frame([])
        #expect(Array(empty[8..<12]) == [0x29, 0x03, 0x98, 0x07])
    }

    @Test("the file starts with brain.Event:2, then scalars and restart markers in order")
    func writesEvents() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let writer = try EventFileWriter(folder: folder + "/run/train", time: 1_700_000_000.5)
        #expect(writer.path.contains("/run/train/events.out.tfevents.1700000000."))
        writer.add(
            [ScalarValue(tag: "loss/pooled", value: 1.25), ScalarValue(tag: "loss/mean", value: .nan)], step: 3,
            time: 1_700_000_001)
        writer.add([ScalarValue(tag: "loss/pooled", value: 1.0)], step: 4, time: 1_700_000_002)
        writer.addRestart(step: 4, time: 1_700_000_003)
        writer.add([], step: 9, time: 1_700_000_004)  // nothing to write: no record
        try writer.close()

        let records = try Self.records(of: Array(try Data(contentsOf: URL(fileURLWithPath: writer.path))))
        let events = try records.map { try Tensorboard_Event(serializedBytes: $0) }
        try #require(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[0].wallTime == 1_700_000_000.5)
        #expect(events[0].sourceMetadata.writer == "lossd")
        #expect(events[1].step == 3)
        #expect(events[1].summary.value.map(\.tag) == ["loss/pooled"])  // NaN is left out
        #expect(events[1].summary.value[0].simpleValue == 1.25)
        #expect(events[1].summary.value[0].metadata.pluginData.pluginName == "scalars")
        #expect(events[2].summary.value[0].hasMetadata == false)  // described once per tag
        #expect(events[3].step == 4)
        #expect(events[3].sessionLog.status == .start)
    }

    @Test("two files made in the same second have different names")
    func distinctNames() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try EventFileWriter(folder: folder, time: 5)
        let second = try EventFileWriter(folder: folder, time: 5)
        #expect(first.path != second.path)
        try first.close()
        try second.close()
    }

    @Test("a folder that cannot be created is an error naming it")
    func unwritableFolder() throws {
        let folder = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        FileManager.default.createFile(atPath: folder, contents: Data("not a folder".utf8))
        #expect {
            _ = try EventFileWriter(folder: folder + "/run", time: 0)
        } throws: { error in
            guard let error = error as? EventFileError, case .folder(let path, _) = error else { return false }
            return path == folder + "/run" && error.description.contains("--tensorboard")
        }
    }
}

import Checksums
import Foundation
import SSDLoss
import Testing

@testable import LossWire

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

@Suite("Recordings")
struct RecordingTests {
    /// Messages with 1, 2, 3, 5 and 16 frames, some empty, with distinct bytes.
    static let messages: [[[UInt8]]] = [1, 2, 3, 5, 16].enumerated().map { index, count in
        (0..<count).map { frame in
            (0..<((frame * 7 + index * 3) % 11)).map { UInt8(truncatingIfNeeded: $0 &+ frame &* 13 &+ index) }
        }
    }

    /// Every version, read every way.
    static let versionsAndAccesses: [(RecordingFormat.Version, RecordingReader.Access)] =
        RecordingFormat.Version.allCases.flatMap { version in RecordingReader.Access.allCases.map { (version, $0) } }

    private func write(
        _ messages: [[[UInt8]]], to path: String, version: RecordingFormat.Version = .v2
    ) throws -> [UInt64] {
        let writer = try RecordingWriter(path: path, version: version, bufferCapacity: 4096)
        var offsets: [UInt64] = []
        for (index, frames) in messages.enumerated() {
            offsets.append(writer.byteCount)
            try writer.append(WireMessage(copying: frames, receiveTimeNs: UInt64(index) * 1_000_000_007))
        }
        try writer.close()
        return offsets
    }

    private func frames(_ message: WireMessage) -> [[UInt8]] { message.frames.map { Array($0) } }

    @Test(arguments: versionsAndAccesses)
    func roundTripsRecordsOfEveryFrameCount(version: RecordingFormat.Version, access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("round.lossrec")
        _ = try write(Self.messages, to: path, version: version)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)

        let reader = try RecordingReader(path: path, access: access)
        #expect(reader.version == version)
        for (index, expected) in Self.messages.enumerated() {
            let message = try #require(try reader.next())
            #expect(frames(message) == expected)
            #expect(message.receiveTimeNs == UInt64(index) * 1_000_000_007)
        }
        #expect(try reader.next() == nil)
        #expect(reader.goodRecords == Self.messages.count)
        #expect(reader.byteOffset == UInt64(size))
    }

    @Test func fileLayoutMatchesTheFormatVersion1() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("layout.lossrec")
        _ = try write([[[1, 2, 3]]], to: path, version: .v1)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let record: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]
        let crc = CRC32.checksum(record)
        let expected = Array("LOSSREC1".utf8) + record + withUnsafeBytes(of: crc.littleEndian) { Array($0) }
        #expect(bytes == expected)
    }

    @Test func writerRejectsBadFrameCounts() throws {
        let directory = try TemporaryDirectory()
        let writer = try RecordingWriter(path: directory.path("bad.lossrec"))
        #expect(throws: RecordingError.self) { try writer.append(frames: [], receiveTimeNs: 0) }
        let many = WireMessage(copying: Array(repeating: [1], count: 17))
        #expect(throws: RecordingError.self) { try writer.append(many) }
        try writer.close()
        #expect(throws: RecordingError.closed(path: writer.path)) { try writer.append(WireMessage(copying: [[1]])) }
        #expect(writer.recordCount == 0)
    }

    @Test("writtenRecordCount counts the records handed to the file, not those still buffered")
    func writtenRecordCountFollowsTheFlushes() throws {
        let directory = try TemporaryDirectory()
        let writer = try RecordingWriter(path: directory.path("counted.lossrec"), bufferCapacity: 4096)
        let small = WireMessage(copying: [[1, 2, 3]])
        try writer.append(small)
        #expect((writer.recordCount, writer.writtenRecordCount) == (1, 0))  // still in the buffer
        // A frame of at least half the buffer is written directly; its record ends in the buffer.
        try writer.append(WireMessage(copying: [[UInt8](repeating: 7, count: 3000)]))
        #expect((writer.recordCount, writer.writtenRecordCount) == (2, 1))
        try writer.close()
        #expect(writer.writtenRecordCount == 2)
    }

    @Test("a record whose last frame was written directly and needs no padding counts as written at close")
    func writtenRecordCountWhenTheBufferEndsEmpty() throws {
        let directory = try TemporaryDirectory()
        let writer = try RecordingWriter(path: directory.path("direct.lossrec"), version: .v2, bufferCapacity: 4096)
        try writer.append(WireMessage(copying: [[1, 2, 3]]))
        // 3072 bytes: written directly (at least half the buffer) and a multiple of 64, so no padding
        // follows it and the buffer is empty once the record is appended.
        try writer.append(WireMessage(copying: [[1], [UInt8](repeating: 7, count: 3072)]))
        try writer.close()
        #expect((writer.recordCount, writer.writtenRecordCount) == (2, 2))
        let reader = try RecordingReader(path: writer.path)
        while try reader.next() != nil {}
        #expect(reader.goodRecords == 2)
    }

    @Test(
        "a failed write loses the buffered records, and writtenRecordCount says so",
        .enabled(if: FileManager.default.fileExists(atPath: "/dev/full")))
    func writtenRecordCountAfterAFailedWrite() throws {
        let writer = try RecordingWriter(path: "/dev/full", bufferCapacity: 4096)
        for _ in 0..<10 { try writer.append(WireMessage(copying: [[1, 2, 3]])) }  // all buffered
        #expect(throws: RecordingError.self) {
            try writer.append(WireMessage(copying: [[UInt8](repeating: 0, count: 5000)]))
        }
        #expect(throws: RecordingError.closed(path: "/dev/full")) { try writer.append(WireMessage(copying: [[1]])) }
        #expect(writer.recordCount == 10)
        #expect(writer.writtenRecordCount == 0)  // /dev/full took none of them
        try writer.close()
    }

    @Test(arguments: versionsAndAccesses)
    func truncationAtEveryByteOfTheLastRecordIsReported(
        version: RecordingFormat.Version, access: RecordingReader.Access
    ) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("full.lossrec")
        let messages = Array(Self.messages.prefix(3))
        let offsets = try write(messages, to: path, version: version)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let lastOffset = try #require(offsets.last)
        let cutPath = directory.path("cut.lossrec")
        for cut in (Int(lastOffset) + 1)..<bytes.count {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: cutPath))
            let reader = try RecordingReader(path: cutPath, access: access)
            for expected in messages.dropLast() {
                #expect(try reader.next().map(frames) == expected)
            }
            #expect(throws: RecordingError.truncated(path: cutPath, offset: lastOffset, goodRecords: 2)) {
                try reader.next()
            }
            // The error is sticky.
            #expect(throws: RecordingError.self) { try reader.next() }
            #expect(reader.goodRecords == 2)
            #expect(reader.byteOffset == lastOffset)
        }
        // Cut exactly at a record boundary: a clean end after two records.
        try bytes.prefix(Int(lastOffset)).write(to: URL(fileURLWithPath: cutPath))
        let reader = try RecordingReader(path: cutPath, access: access)
        #expect(try reader.next() != nil)
        #expect(try reader.next() != nil)
        #expect(try reader.next() == nil)
    }

    @Test(arguments: versionsAndAccesses)
    func aFlippedByteAnywhereInARecordStopsTheReaderThere(
        version: RecordingFormat.Version, access: RecordingReader.Access
    ) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("flip.lossrec")
        let messages = Array(Self.messages.prefix(3))
        let offsets = try write(messages, to: path, version: version)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let damagedPath = directory.path("damaged.lossrec")
        let start = Int(offsets[1])
        let end = Int(offsets[2])
        for position in start..<end {
            var bytes = original
            bytes[position] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: damagedPath))
            let reader = try RecordingReader(path: damagedPath, access: access)
            #expect(try reader.next().map(frames) == messages[0])
            #expect {
                _ = try reader.next()
            } throws: { error in
                switch error as? RecordingError {
                case .damaged(damagedPath, UInt64(start), 1, _)?, .truncated(damagedPath, UInt64(start), 1)?: true
                default: false
                }
            }
        }
        // A flipped payload byte is reported as a CRC mismatch.
        var bytes = original
        bytes[end - (version == .v1 ? 5 : 1)] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: damagedPath))
        let reader = try RecordingReader(path: damagedPath, access: access)
        _ = try reader.next()
        let error = try #require(throws: RecordingError.self) { try reader.next() }
        guard case .damaged(_, let offset, 1, let reason) = error else {
            Issue.record("expected damaged, got \(error)")
            return
        }
        #expect(offset == UInt64(start))
        #expect(reason.contains(version == .v1 ? "CRC-32 " : "CRC-32C "))
        #expect(error.description.contains("at byte \(start), after 1 good records"))
    }

    @Test(arguments: [UInt32(0), 17, 0xFFFF_FFFF])
    func badFrameCountsAreDamage(count: UInt32) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("count.lossrec")
        var bytes = Array("LOSSREC1".utf8) + [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: count.littleEndian) { bytes.append(contentsOf: $0) }
        bytes += [UInt8](repeating: 0, count: 64)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reader = try RecordingReader(path: path)
        let error = try #require(throws: RecordingError.self) { try reader.next() }
        guard case .damaged(path, 8, 0, _) = error else {
            Issue.record("expected damaged at 8, got \(error)")
            return
        }
    }

    @Test func lengthsBeyondTheLimitOrTheFileAreRejectedBeforeAllocating() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("huge.lossrec")
        var bytes = Array("LOSSREC1".utf8) + [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64.max.littleEndian) { bytes.append(contentsOf: $0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: RecordingError.self) { try RecordingReader(path: path).next() }
        guard case .damaged(_, 8, 0, let reason) = error else {
            Issue.record("expected damaged, got \(error)")
            return
        }
        #expect(reason.contains("max_message_bytes"))

        // Within the limit but beyond the end of the file: truncated.
        let smallPath = directory.path("short.lossrec")
        for version in RecordingFormat.Version.allCases {
            _ = try write([[[UInt8](repeating: 9, count: 1000)]], to: smallPath, version: version)
            let whole = try Data(contentsOf: URL(fileURLWithPath: smallPath))
            let start = UInt64(version.fileHeaderBytes)
            try whole.prefix(Int(start) + 160).write(to: URL(fileURLWithPath: smallPath))
            for access in RecordingReader.Access.allCases {
                #expect(throws: RecordingError.truncated(path: smallPath, offset: start, goodRecords: 0)) {
                    try RecordingReader(path: smallPath, access: access).next()
                }
            }
            // And a small max_message_bytes rejects an intact record.
            _ = try write([[[UInt8](repeating: 9, count: 1000)]], to: smallPath, version: version)
            let limited = try RecordingReader(path: smallPath, limits: WireLimits(maxMessageBytes: 999))
            let error = try #require(throws: RecordingError.self) { try limited.next() }
            #expect(error.description.contains("max_message_bytes"))
        }
    }

    @Test func filesWithoutTheMagicAreNotRecordings() throws {
        let directory = try TemporaryDirectory()
        for (name, contents) in [
            ("wrong", "LOSSRED1 and more"), ("short", "LOSS"), ("empty", ""), ("seven", "LOSSREC"),
        ] {
            let path = directory.path(name)
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
            #expect(throws: RecordingError.notARecording(path: path)) { try RecordingReader(path: path) }
        }
        let missing = directory.path("missing.lossrec")
        #expect(throws: RecordingError.openFailed(path: missing, errno: ENOENT)) { try RecordingReader(path: missing) }
        #expect(RecordingError.openFailed(path: missing, errno: ENOENT).description.contains("No such file"))
        let newer = directory.path("newer.lossrec")
        try Data("LOSSREC3 from a later lossd".utf8).write(to: URL(fileURLWithPath: newer))
        #expect(throws: RecordingError.unsupportedVersion(path: newer, version: "3")) {
            try RecordingReader(path: newer)
        }
    }

    @Test(arguments: versionsAndAccesses)
    func recordedBatchesDecode(version: RecordingFormat.Version, access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("batches.lossrec")
        let headers = (0..<4).map { seq in
            BatchHeader(
                shape: BatchShape(batch: 2, boxes: 5, classes: 3), dtype: seq % 2 == 0 ? .float32 : .float16,
                layout: seq % 2 == 0 ? .keras : .compact, run: "rec", seq: seq)
        }
        let writer = try RecordingWriter(path: path, version: version)
        for header in headers { try writer.append(TestMessages.message(header)) }
        try writer.close()
        let reader = try RecordingReader(path: path, access: access)
        var decoded: [BatchHeader] = []
        while let message = try reader.next() {
            decoded.append(try BatchDecoder.decode(message, defaults: LossParameters()).header)
        }
        #expect(decoded == headers)
    }

    /// The reader holds one record at a time: after each record its offset is that record's end,
    /// not the file's, and each message owns only its own bytes. (Whole-process memory is measured
    /// by the sidecar benchmarks, where no other test shares the process.)
    @Test(arguments: versionsAndAccesses)
    func streamsRecordByRecord(version: RecordingFormat.Version, access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("stream.lossrec")
        let count = 300
        let frameBytes = 64 << 10
        let writer = try RecordingWriter(path: path, version: version)
        var payload = [UInt8](repeating: 0, count: frameBytes)
        for index in 0..<count {
            payload[0] = UInt8(truncatingIfNeeded: index)
            try payload.withUnsafeBytes { frame in
                try Array("{}".utf8).withUnsafeBytes { header in
                    try writer.append(frames: [header, frame], receiveTimeNs: UInt64(index))
                }
            }
        }
        try writer.close()
        // v1: magic, then per record: time, count, two lengths, the frames, the CRC.
        // v2: file header, then per record: a 64-byte header, "{}" padded to 64, the frame.
        let fileHeader = version.fileHeaderBytes
        let recordBytes = version == .v1 ? 8 + 4 + 2 * 8 + 2 + frameBytes + 4 : 64 + 64 + frameBytes

        let reader = try RecordingReader(path: path, access: access)
        var seen = 0
        while let message = try reader.next() {
            #expect(message.frames[1].count == frameBytes)
            #expect(message.frames[1][0] == UInt8(truncatingIfNeeded: seen))
            #expect(message.receiveTimeNs == UInt64(seen))
            #expect(message.totalBytes == 2 + frameBytes)
            seen += 1
            #expect(reader.byteOffset == UInt64(fileHeader + seen * recordBytes))
        }
        #expect(seen == count)
    }
}

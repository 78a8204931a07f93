import Checksums
import Foundation
import Testing

@testable import LossWire

@Suite("Recordings, format version 2")
struct RecordingVersion2Tests {
    private func le<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    private func bytes(of path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func fileLayoutMatchesTheFormat() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("layout.lossrec")
        let writer = try RecordingWriter(path: path)
        #expect(writer.version == .v2)
        let json = Array(#"{"v":1}"#.utf8)
        let tensor = [UInt8](repeating: 0xAB, count: 70)
        try writer.append(WireMessage(copying: [json, [], tensor], receiveTimeNs: 42))
        try writer.close()

        // The file header, then one record: a 64-byte header, and frames of 7, 0 and 70 bytes
        // padded to 64, 0 and 128.
        let padded7 = json + [UInt8](repeating: 0, count: 57)
        let padded70 = tensor + [UInt8](repeating: 0, count: 58)
        let payload = padded7 + padded70
        var header = le(UInt64(64 + 64 + 128)) + le(UInt64(42)) + le(UInt32(3)) + le(CRC32C.checksum(payload))
        header += le(UInt64(7)) + le(UInt64(0)) + le(UInt64(70))
        header += le(CRC32C.checksum(header))
        #expect(header.count == 52)
        header += [UInt8](repeating: 0, count: 12)
        let expected = Array("LOSSREC2".utf8) + [UInt8](repeating: 0, count: 56) + header + payload
        #expect(try bytes(of: path) == expected)
        #expect(writer.byteCount == UInt64(expected.count))
    }

    @Test(arguments: RecordingReader.Access.allCases)
    func framesAreAlignedViews(access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("aligned.lossrec")
        let writer = try RecordingWriter(path: path)
        for count in [1, 3, 16] {
            try writer.append(
                WireMessage(copying: (0..<count).map { [UInt8](repeating: UInt8($0), count: 5 + 61 * $0) }))
        }
        try writer.close()
        let reader = try RecordingReader(path: path, access: access)
        var records = 0
        while let message = try reader.next() {
            for (index, frame) in message.frames.enumerated() {
                #expect(Int(bitPattern: frame.baseAddress) % RecordingFormat.alignment == 0)
                #expect(Array(frame) == [UInt8](repeating: UInt8(index), count: 5 + 61 * index))
            }
            records += 1
        }
        #expect(records == 3)
    }

    /// The header's own checksum catches a damaged length before the reader believes it: the
    /// error is "damaged", never "truncated" or an allocation of the claimed size.
    @Test(arguments: RecordingReader.Access.allCases)
    func aDamagedLengthIsCaughtByTheHeaderChecksum(access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("length.lossrec")
        let writer = try RecordingWriter(path: path)
        try writer.append(WireMessage(copying: [[1, 2, 3], [UInt8](repeating: 4, count: 100)]))
        try writer.close()
        var data = try bytes(of: path)
        data[64 + 24 + 8 + 5] = 0x7F  // frame 1's length, now about 2^47
        try Data(data).write(to: URL(fileURLWithPath: path))
        let reader = try RecordingReader(path: path, access: access)
        let error = try #require(throws: RecordingError.self) { try reader.nextRecord() }
        guard case .damaged(_, 64, 0, let reason) = error else {
            Issue.record("expected damaged at 64, got \(error)")
            return
        }
        #expect(reason.contains("header's CRC-32C"))
    }

    @Test func fileHeaderProblemsAreReportedAtOffsetZero() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("header.lossrec")
        try Data("LOSSREC2".utf8 + [UInt8](repeating: 0, count: 20)).write(to: URL(fileURLWithPath: path))
        #expect(throws: RecordingError.truncated(path: path, offset: 0, goodRecords: 0)) {
            try RecordingReader(path: path)
        }
        try Data("LOSSREC2".utf8 + [UInt8](repeating: 0, count: 55) + [1]).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: RecordingError.self) { try RecordingReader(path: path) }
        guard case .damaged(_, 0, 0, _) = error else {
            Issue.record("expected damaged at 0, got \(error)")
            return
        }
        // A file header and nothing else is an empty recording.
        try Data("LOSSREC2".utf8 + [UInt8](repeating: 0, count: 56)).write(to: URL(fileURLWithPath: path))
        #expect(try RecordingReader(path: path).next() == nil)
    }

    /// Records come out unverified and are verified on other threads, in any order; a damaged
    /// payload fails its own verification only, with its offset and index.
    @Test(arguments: RecordingFormat.Version.allCases, RecordingReader.Access.allCases)
    func verificationRunsOnOtherThreads(version: RecordingFormat.Version, access: RecordingReader.Access) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("parallel.lossrec")
        let writer = try RecordingWriter(path: path, version: version)
        var offsets: [UInt64] = []
        for index in 0..<40 {
            offsets.append(writer.byteCount)
            try writer.append(
                WireMessage(copying: [
                    Array("{\"seq\":\(index)}".utf8), [UInt8](repeating: UInt8(index), count: 3000 + index),
                ]))
        }
        try writer.close()
        var data = try bytes(of: path)
        data[Int(offsets[17]) + 200] ^= 0x10  // inside record 17's tensor
        try Data(data).write(to: URL(fileURLWithPath: path))

        let reader = try RecordingReader(path: path, access: access)
        var records: [RecordedMessage] = []
        while let record = try reader.nextRecord() { records.append(record) }
        #expect(records.count == 40)
        #expect(records.map(\.offset) == offsets)
        #expect(records.map(\.index) == Array(0..<40))
        #expect(reader.byteOffset == UInt64(data.count))
        reader.close()  // the records keep their bytes alive

        let failures = await withTaskGroup(of: (Int, RecordingError?).self) { group in
            for record in records {
                group.addTask { (record.index, Self.failure(of: record)) }
            }
            var failures: [Int: RecordingError] = [:]
            for await (index, error) in group { if let error { failures[index] = error } }
            return failures
        }
        #expect(Array(failures.keys) == [17])
        if case .damaged(let damagedPath, let offset, let good, let reason)? = failures[17] {
            #expect(damagedPath == path && offset == offsets[17] && good == 17)
            #expect(reason.contains(version == .v1 ? "CRC-32 " : "CRC-32C "))
        } else {
            Issue.record("expected damaged at \(offsets[17]) after 17 records, got \(String(describing: failures[17]))")
        }
        for record in records where record.index != 17 {
            #expect(record.message.frames[1].allSatisfy { $0 == UInt8(record.index) })
        }

        // next() verifies: it stops at record 17 and stays there.
        let verifying = try RecordingReader(path: path, access: access)
        for _ in 0..<17 { _ = try verifying.next() }
        #expect(throws: RecordingError.self) { try verifying.next() }
        #expect(verifying.byteOffset == offsets[17])
        #expect(verifying.goodRecords == 17)
        #expect(throws: RecordingError.self) { try verifying.nextRecord() }
    }

    /// What verifying `record` throws, if anything.
    private static func failure(of record: RecordedMessage) -> RecordingError? {
        do {
            try record.verify()
            return nil
        } catch {
            return error
        }
    }

    /// A recording still being written is read up to its current end, and further once it grows.
    @Test(arguments: RecordingFormat.Version.allCases, RecordingReader.Access.allCases)
    func aGrowingFileIsReadAsItGrows(version: RecordingFormat.Version, access: RecordingReader.Access) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("growing.lossrec")
        let writer = try RecordingWriter(path: path, version: version, bufferCapacity: 4096)
        try writer.append(WireMessage(copying: [[1], [UInt8](repeating: 1, count: 10_000)]))
        try writer.flush()
        let reader = try RecordingReader(path: path, access: access)
        let first = try #require(try reader.next())
        #expect(try reader.next() == nil)
        try writer.append(WireMessage(copying: [[2], [UInt8](repeating: 2, count: 20_000)]))
        try writer.close()
        let second = try #require(try RecordingReader(path: path, access: access).next())
        _ = second
        let grown = try #require(try reader.nextRecord())
        try grown.verify()
        #expect(grown.message.frames[1].count == 20_000 && grown.message.frames[1].allSatisfy { $0 == 2 })
        #expect(first.frames[1].allSatisfy { $0 == 1 })  // the first map is still alive
    }

    /// A buffered reader hands the buffer of a finished message to the next record.
    @Test func bufferedReadingReusesBuffers() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("reuse.lossrec")
        let writer = try RecordingWriter(path: path)
        for index in 0..<3 {
            try writer.append(WireMessage(copying: [[UInt8(index)], [UInt8](repeating: UInt8(index), count: 100_000)]))
        }
        try writer.close()
        let reader = try RecordingReader(path: path, access: .buffered)
        var first: WireMessage? = try reader.next()
        let firstBase = first?.frames[0].baseAddress
        let second = try #require(try reader.next())
        #expect(second.frames[0].baseAddress != firstBase)  // the first one is still in use
        first = nil
        let third = try #require(try reader.next())
        #expect(third.frames[0].baseAddress == firstBase)
        #expect(third.frames[1].allSatisfy { $0 == 2 })
    }
}

import Checksums
import Foundation
import SSDLoss
import Testing

@testable import LossWire

/// Version 1 recordings written by lossd before version 2 existed read back to the very messages
/// that lossd's reader of that time returned (Tests/Fixtures/recordings-v1/README.md).
@Suite("Recordings written before version 2")
struct RecordingCompatibilityTests {
    struct Frame: Decodable, Equatable {
        var bytes: Int
        var crc32: UInt32
        var crc32c: UInt32
    }

    struct Record: Decodable, Equatable {
        var receiveTimeNs: UInt64
        var frames: [Frame]

        enum CodingKeys: String, CodingKey {
            case receiveTimeNs = "receive_time_ns"
            case frames
        }
    }

    /// The repository's root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func manifest() throws -> [String: [Record]] {
        let data = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/recordings-v1/manifest.json"))
        return try JSONDecoder().decode([String: [Record]].self, from: data)
    }

    static let files = [
        "Examples/sample.lossrec",
        "Tests/Fixtures/recordings-v1/synth-keras-float32.lossrec",
        "Tests/Fixtures/recordings-v1/synth-compact-float16.lossrec",
    ]

    @Test(arguments: files, RecordingReader.Access.allCases)
    func readsToTheSameMessages(file: String, access: RecordingReader.Access) throws {
        let expected = try #require(try Self.manifest()[file])
        let reader = try RecordingReader(path: Self.root.appendingPathComponent(file).path, access: access)
        #expect(reader.version == .v1)
        var records: [Record] = []
        while let message = try reader.next() {
            records.append(
                Record(
                    receiveTimeNs: message.receiveTimeNs,
                    frames: message.frames.map {
                        Frame(bytes: $0.count, crc32: CRC32.checksum($0), crc32c: CRC32C.checksum($0))
                    }))
            _ = try BatchDecoder.decode(message, defaults: LossParameters())
        }
        #expect(records == expected)
    }

    /// `make sample` now writes `Examples/sample-v2.lossrec`: the same batches as the version 1
    /// sample (synth is deterministic but for receive times), so the two must hold the same frames.
    @Test func theVersion2SampleHoldsTheVersion1SamplesBatches() throws {
        func frames(_ file: String) throws -> [[[UInt8]]] {
            let reader = try RecordingReader(path: Self.root.appendingPathComponent(file).path)
            var all: [[[UInt8]]] = []
            while let message = try reader.next() { all.append(message.frames.map { Array($0) }) }
            return all
        }
        let version2 = try RecordingReader(path: Self.root.appendingPathComponent("Examples/sample-v2.lossrec").path)
        #expect(version2.version == .v2)
        #expect(try frames("Examples/sample-v2.lossrec") == frames("Examples/sample.lossrec"))
    }

    /// Rewritten as version 2, the same messages read back the same.
    @Test(arguments: files)
    func rewrittenAsVersion2TheyReadTheSame(file: String) throws {
        let directory = try TemporaryDirectory()
        let copy = directory.path("v2.lossrec")
        let reader = try RecordingReader(path: Self.root.appendingPathComponent(file).path)
        let writer = try RecordingWriter(path: copy)
        var originals: [[[UInt8]]] = []
        while let message = try reader.next() {
            try writer.append(message)
            originals.append(message.frames.map { Array($0) })
        }
        try writer.close()
        let again = try RecordingReader(path: copy)
        #expect(again.version == .v2)
        var copies: [[[UInt8]]] = []
        while let message = try again.next() { copies.append(message.frames.map { Array($0) }) }
        #expect(copies == originals)
    }
}

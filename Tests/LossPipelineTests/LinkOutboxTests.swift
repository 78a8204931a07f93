import Foundation
import LossWire
import Testing

@testable import LossPipeline

@Suite("The record link's outbox and spool", .timeLimit(.minutes(1)))
struct LinkOutboxTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func theOutboxIsBoundedByCountAndBytes() {
        var outbox = LinkOutbox(maxRecords: 3, maxBytes: 10)
        #expect(outbox.hasRoom(for: 100))  // empty: any one record fits
        outbox.append(bytes("aaaa"))
        outbox.append(bytes("bbbb"))
        #expect(!outbox.hasRoom(for: 3))  // 8 + 3 > 10 bytes
        #expect(outbox.hasRoom(for: 2))
        outbox.append(bytes("cc"))
        #expect(!outbox.hasRoom(for: 0))  // 3 records
        #expect(outbox.count == 3)
        #expect(outbox.byteCount == 10)
    }

    @Test func acknowledgementsForgetOnlyWhatIsBelowDurable() {
        var outbox = LinkOutbox(maxRecords: 10, maxBytes: 1000)
        for index in 0..<5 { #expect(outbox.append(bytes("r\(index)")) == UInt64(index)) }
        #expect(outbox.acknowledge(below: 3) == 3)
        #expect(outbox.first == 3)
        #expect(outbox.entry(2) == nil)
        #expect(outbox.entry(4)?.bytes == bytes("r4"))
        #expect(outbox.acknowledge(below: 2) == 0)  // an old ack changes nothing
        #expect(outbox.acknowledge(below: 99) == 2)
        #expect(outbox.first == 5)  // empty: the next seq
        #expect(outbox.append(bytes("r5")) == 5)
    }

    @Test func restoredRecordsKeepTheirSeqsAndTheNextFollows() {
        var outbox = LinkOutbox(maxRecords: 10, maxBytes: 1000)
        outbox.restore(.init(seq: 7, bytes: bytes("a")))
        outbox.restore(.init(seq: 8, bytes: bytes("b")))
        outbox.restore(.init(seq: 8, bytes: bytes("again")))
        #expect(outbox.first == 7)
        #expect(outbox.count == 2)
        #expect(outbox.append(bytes("c")) == 9)
    }

    private func folder() -> String {
        NSTemporaryDirectory() + "lossd-spool-\(UUID().uuidString.prefix(8))"
    }

    @Test func aSpoolGivesBackWhatWasNotAcknowledged() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let (spool, contents) = try LinkSpool.open(path, segmentBytes: 64)
            #expect(contents.link == nil)
            #expect(contents.entries.isEmpty)
            try spool.saveLink("0123456789abcdef")
            for seq in 0..<10 {
                try spool.append(.init(seq: UInt64(seq), bytes: bytes("{\"record\":\(seq)}")))
            }
            spool.acknowledge(below: 4)
            spool.close()
        }
        let (spool, contents) = try LinkSpool.open(path, segmentBytes: 64)
        defer { spool.close() }
        #expect(contents.link == "0123456789abcdef")
        // Whole segments go once acknowledged: what is left starts at or below seq 4, ends at 9.
        let seqs = contents.entries.map(\.seq)
        #expect(seqs.last == 9)
        #expect(seqs.first.map { $0 <= 4 } == true)
        #expect(seqs == Array(seqs.first!...9))
        #expect(contents.entries.last?.bytes == bytes("{\"record\":9}"))
    }

    @Test func aFullyAcknowledgedSpoolStartsANewLink() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let (spool, _) = try LinkSpool.open(path)
            try spool.saveLink("aaaaaaaaaaaaaaaa")
            try spool.append(.init(seq: 0, bytes: bytes("x")))
            spool.acknowledge(below: 1)
            spool.close()
        }
        let (spool, contents) = try LinkSpool.open(path)
        defer { spool.close() }
        #expect(contents.link == nil)
        #expect(contents.entries.isEmpty)
    }

    @Test func aTornLastEntryIsDropped() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let (spool, _) = try LinkSpool.open(path)
            try spool.saveLink("bbbbbbbbbbbbbbbb")
            try spool.append(.init(seq: 0, bytes: bytes("first")))
            try spool.append(.init(seq: 1, bytes: bytes("second")))
            spool.close()
        }
        let segment = path + "/00000000000000000000.spool"
        let whole = try Data(contentsOf: URL(fileURLWithPath: segment))
        try whole.prefix(whole.count - 3).write(to: URL(fileURLWithPath: segment))
        let (spool, contents) = try LinkSpool.open(path)
        defer { spool.close() }
        #expect(contents.entries.map(\.bytes) == [bytes("first")])
        #expect(contents.damaged == 1)
    }

    @Test func oneSidecarPerSpool() throws {
        let path = folder()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (spool, _) = try LinkSpool.open(path)
        defer { spool.close() }
        #expect(throws: LinkSpoolError.self) { _ = try LinkSpool.open(path) }
    }

    @Test func linkMessagesRoundTrip() throws {
        let messages: [LinkMessage] = [
            .record(link: "0123456789abcdef", seq: 41, first: 7),
            .sync(link: "l", first: 0, next: UInt64.max),
            .ack(LinkAck(link: "0123456789abcdef", next: 42, durable: 40, credit: 1000, rewind: true)),
        ]
        for message in messages {
            var frames = message.frames
            if case .record = message { frames.append(bytes("{}")) }
            let decoded = try withFrames(frames) { try LinkMessage(frames: $0) }
            #expect(decoded == message)
        }
        #expect(throws: LinkProtocolError.self) {
            try withFrames([bytes("{\"v\":1}")]) { try LinkMessage(frames: $0) }
        }
        #expect(throws: LinkProtocolError.self) {
            try withFrames([bytes("ack"), bytes("l"), [1, 2]]) { try LinkMessage(frames: $0) }
        }
    }

    private func withFrames<T>(
        _ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> T
    ) throws -> T {
        let copies = frames.map { frame -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, frame.count), alignment: 8)
            frame.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return buffer
        }
        defer { copies.forEach { $0.deallocate() } }
        return try body(zip(copies, frames).map { UnsafeRawBufferPointer(rebasing: $0.0[0..<$0.1.count]) })
    }
}

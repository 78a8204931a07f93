import Foundation
import Logging
import LossWire
import LossdTestSupport
import Synchronization
import Testing

@testable import LossPipeline

/// The sidecar's recording thread: a hand-off without a queue, messages written in order and
/// released once written, failures counted rather than blocking the receiver.
@Suite("SidecarRecorder", .timeLimit(.minutes(1)))
struct SidecarRecorderTests {
    private let logger = Logger(label: "test.recorder")

    /// Counters as a plain sidecar's (no CURVE on either socket).
    private func counters() -> SidecarCounters {
        SidecarCounters(
            inputHandshakes: HandshakeFailureLog(
                socket: "sidecar.input", role: .server, security: .plain, logger: logger),
            outputHandshakes: HandshakeFailureLog(
                socket: "sidecar.output", role: .client, security: .plain, logger: logger))
    }

    @Test(
        "every message handed over is in the file, in order, in the chosen version",
        arguments: RecordingFormat.Version.allCases)
    func writesEveryMessageInOrder(version: RecordingFormat.Version) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("order.lossrec")
        let counters = self.counters()
        let recorder = try SidecarRecorder.start(path: path, version: version, counters: counters, logger: logger)
        let messages = (0..<50).map { index in
            [Array("{\"seq\":\(index)}".utf8), [UInt8](repeating: UInt8(index), count: 100 + 1000 * (index % 7))]
        }
        for (index, frames) in messages.enumerated() {
            recorder.record(WireMessage(copying: frames, receiveTimeNs: UInt64(index + 1)))
        }
        #expect(recorder.finish() == 50)
        #expect(counters.report.recorded == 50)

        let reader = try RecordingReader(path: path)
        #expect(reader.version == version)
        var read: [[[UInt8]]] = []
        while let message = try reader.next() { read.append(message.frames.map { Array($0) }) }
        #expect(read == messages)
    }

    /// Small records are gathered in the writer's buffer while messages keep coming, and written
    /// as soon as none is waiting: a reader of the file, or a crash, finds every record handed over.
    @Test("small records reach the file once the writer has nothing waiting")
    func idleWriterFlushes() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("idle.lossrec")
        let counters = self.counters()
        let recorder = try SidecarRecorder.start(path: path, version: .v2, counters: counters, logger: logger)
        defer { _ = recorder.finish() }
        for index in 0..<3 { recorder.record(WireMessage(copying: [[UInt8(index)], [1, 2, 3]])) }
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while counters.report.recorded < 3 && ContinuousClock.now < deadline { usleep(1000) }
        #expect(counters.report.recorded == 3)
        var read = 0
        let reader = try RecordingReader(path: path)
        while try reader.next() != nil { read += 1 }
        #expect(read == 3)
    }

    /// A message's frames stay alive while the writer holds it and are released once written:
    /// the recorder adds at most one message to what the receiver holds.
    @Test("record returns once the writer has taken the message; it is released once written")
    func handsOffWithoutAQueue() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("handoff.lossrec")
        let recorder = try SidecarRecorder.start(
            path: path, version: .v2, counters: counters(), logger: logger)
        let alive = Atomic<Int>(0)
        let highest = Atomic<Int>(0)
        for index in 0..<40 {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 300_000, alignment: 64)
            storage.initializeMemory(as: UInt8.self, repeating: UInt8(index))
            let now = alive.add(1, ordering: .relaxed).newValue
            _ = highest.max(now, ordering: .relaxed)
            let owned = Owned(storage)
            let message = WireMessage(frames: [UnsafeRawBufferPointer(storage)], receiveTimeNs: 0) {
                owned.free()
                _ = alive.subtract(1, ordering: .relaxed)
            }
            recorder.record(message)
        }
        #expect(recorder.finish() == 40)
        #expect(alive.load(ordering: .relaxed) == 0)
        // The loop's own message and the one the writer holds: never more than two at once.
        #expect(highest.load(ordering: .relaxed) <= 2)
    }

    /// A full disk: the first failed write is logged, every later message is taken and dropped at
    /// once (the receiver never waits on a dead writer), and finish() says how few reached the file.
    @Test(
        "after a failed write, messages are still taken; finish() counts what reached the file",
        .enabled(if: FileManager.default.fileExists(atPath: "/dev/full")),
        arguments: RecordingFormat.Version.allCases)
    func failedWritesAreCountedNotBlocking(version: RecordingFormat.Version) throws {
        let counters = self.counters()
        let recorder = try SidecarRecorder.start(
            path: "/dev/full", version: version, counters: counters, logger: logger)
        for index in 0..<20 {
            recorder.record(WireMessage(copying: [[UInt8(index)], [UInt8](repeating: 1, count: 200_000)]))
        }
        #expect(recorder.finish() == 0)
        #expect(counters.report.recorded == 0)
    }

    @Test("a recording that cannot be created is an error at start, with the path")
    func cannotCreate() {
        let path = "/nonexistent-folder/run.lossrec"
        #expect(throws: RecordingError.openFailed(path: path, errno: ENOENT)) {
            try SidecarRecorder.start(path: path, version: .v2, counters: counters(), logger: logger)
        }
    }
}

/// Memory freed once by a message's release. `@unchecked Sendable`: freed exactly once, after the
/// message's last view is gone.
private final class Owned: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    init(_ storage: UnsafeMutableRawBufferPointer) { self.storage = storage }
    func free() { storage.deallocate() }
}

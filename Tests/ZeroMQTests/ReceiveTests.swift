import Testing
import ZeroMQ

@Suite("Receiving", .timeLimit(.minutes(1)))
struct ReceiveTests {
    @Test func aReceiveTimeoutReturnsNil() async throws {
        let context = try Context()
        try await onSocketThread {
            let (_, pull) = try pushPullPair(context, over: .tcp)
            let start = ContinuousClock.now
            #expect(try pull.receive(timeout: .milliseconds(100)) == nil)
            #expect(ContinuousClock.now - start >= .milliseconds(90))
            #expect(try pull.tryReceive() == nil)
        }
    }

    @Test func aBlockingReceiveHonoursTheReceiveTimeoutOption() async throws {
        let context = try Context()
        try await onSocketThread {
            let (_, pull) = try pushPullPair(context, over: .inproc, pullOptions: [.receiveTimeout(.milliseconds(50))])
            #expect(throws: ZeroMQError.timedOut) { try pull.receive() }
        }
    }

    @Test func tooManyFramesAreDrainedAndReported() async throws {
        let context = try Context()
        try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: .tcp)
            let long = (0..<10).map { patternBytes(100 + $0, seed: UInt8($0)) }
            try push.send(long)
            try push.send([Array("next".utf8), [1, 2, 3]])

            let truncated = try #require(try pull.receive(timeout: .seconds(5), maxFrames: 3))
            #expect(!truncated.isComplete)
            #expect(truncated.frames.count == 3)
            #expect(truncated.droppedFrameCount == 7)
            #expect(truncated.sentFrameCount == 10)
            #expect(truncated.droppedBytes == long[3...].reduce(0) { $0 + $1.count })
            #expect(truncated.bytes(at: 0) == long[0])

            let next = try #require(try pull.receive(timeout: .seconds(5), maxFrames: 3))
            #expect(next.isComplete)
            #expect(next.string(at: 0) == "next")
            #expect(next.bytes(at: 1) == [1, 2, 3])
        }
    }

    @Test func aReceiveDuringShutdownThrowsTerminatedAndTheThreadEnds() async throws {
        let context = try Context()
        let ready = Latch<Void>()
        let thread = try SocketThread(name: "zmq-pull", context: context, type: .pull) { pull in
            // The timeout only bounds the test should shutdown fail to wake the receive.
            try pull.setOption(.receiveTimeout(.seconds(20)))
            try pull.bind("inproc://shutdown-test")
            ready.open()
            do {
                _ = try pull.receive()
                return "received"
            } catch ZeroMQError.terminated {
                return "terminated"
            }
        }
        try await ready.wait()
        try await Task.sleep(for: .milliseconds(50))
        context.shutdown()
        #expect(try await thread.value == "terminated")
        #expect(thread.isFinished)
        #expect(throws: ZeroMQError.terminated) { try Socket(context, type: .push) }
    }
}

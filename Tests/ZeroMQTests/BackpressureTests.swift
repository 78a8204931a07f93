import Testing
import ZeroMQ

@Suite("Backpressure", .timeLimit(.minutes(1)))
struct BackpressureTests {
    @Test(arguments: [TestTransport.inproc, .tcp])
    func aFullQueueReportsWouldBlock(over transport: TestTransport) async throws {
        let context = try Context()
        try await onSocketThread {
            let (push, pull) = try pushPullPair(
                context, over: transport,
                pullOptions: [.receiveHighWaterMark(1)], pushOptions: [.sendHighWaterMark(1)])
            let batch = patternBytes(1 << 20)
            var accepted = 0
            var blocked = false
            let deadline = ContinuousClock.now + .seconds(10)
            // Nobody reads: the queues and, over tcp, the kernel's buffers fill up.
            while !blocked && ContinuousClock.now < deadline {
                do {
                    try push.send([batch], mode: .dontWait)
                    accepted += 1
                } catch ZeroMQError.wouldBlock {
                    blocked = true
                }
                if !blocked {
                    // Give libzmq's I/O thread time to move the batch into the peer's queue.
                    sleepThread(milliseconds: 1)
                }
            }
            #expect(blocked)
            #expect(accepted >= 1)
            #expect(accepted < 100)
            // Over tcp the kernel may take a little more meanwhile; a bounded wait soon times out.
            var timedOut = false
            for _ in 0..<50 where !timedOut {
                do {
                    try push.send([batch], mode: .timeout(.milliseconds(20)))
                } catch ZeroMQError.timedOut {
                    timedOut = true
                }
            }
            #expect(timedOut)
            // The reader exists (and never reads) until here.
            withExtendedLifetime(pull) {}
        }
    }

    @Test func aPushWithoutPeersWouldBlock() async throws {
        let context = try Context()
        try await onSocketThread {
            let push = try Socket(context, type: .push)
            try push.bind("tcp://127.0.0.1:*")
            #expect(throws: ZeroMQError.wouldBlock) { try push.send("record", mode: .dontWait) }
        }
    }
}

import Testing
import ZeroMQ

@Suite("PUB/SUB", .timeLimit(.minutes(1)))
struct PubSubTests {
    @Test func aSubscriberReceivesOnlyItsTopic() async throws {
        let context = try Context()
        let topics = try await onSocketThread {
            let publisher = try Socket(context, type: .pub)
            try publisher.bind("tcp://127.0.0.1:*")
            let subscriber = try Socket(context, type: .sub)
            try subscriber.setOption(.subscribe("loss."))
            try subscriber.connect(#require(try publisher.lastEndpoint()))
            // A subscription takes a moment to reach the publisher: publish until one arrives.
            var received: [String] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while received.count < 3 && ContinuousClock.now < deadline {
                try publisher.send([Array("other".utf8), [0]])
                try publisher.send([Array("loss.train".utf8), [1]])
                if let message = try subscriber.receive(timeout: .milliseconds(20)) {
                    received.append(message.string(at: 0))
                    #expect(message.bytes(at: 1) == [1])
                }
            }
            return received
        }
        #expect(topics.count == 3)
        #expect(topics.allSatisfy { $0 == "loss.train" })
    }
}

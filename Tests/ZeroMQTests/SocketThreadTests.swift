import Foundation
import Testing
import ZeroMQ

@Suite("Socket threads", .timeLimit(.minutes(1)))
struct SocketThreadTests {
    @Test func runsOnANamedThreadOfItsOwn() async throws {
        let name = try await onSocketThread("lossd-input-thread") {
            try String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
        }
        // Linux keeps the first 15 bytes of a thread's name.
        #expect(name.trimmingCharacters(in: .whitespacesAndNewlines) == "lossd-input-thr")
    }

    @Test func passesOnTheBodysError() async throws {
        let thread = try SocketThread<Int>(name: "zmq-failing") { throw ZeroMQError.timedOut }
        await #expect(throws: ZeroMQError.timedOut) { try await thread.value }
        await #expect(throws: ZeroMQError.timedOut) { try await thread.value }
    }

    @Test func canBeJoinedFromAnotherThreadAndAwaited() async throws {
        let joined = try SocketThread(name: "zmq-joined") { 7 }
        let value = try await onSocketThread { try joined.join() }
        #expect(value == 7)
        #expect(try await joined.value == 7)
        #expect(joined.isFinished)
    }

    @Test func ownsTheSocketItCreatesAndClosesIt() async throws {
        let context = try Context()
        let thread = try SocketThread(name: "zmq-owner", context: context, type: .pull) { pull in
            try pull.bind("tcp://127.0.0.1:*")
            return try pull.lastEndpoint()
        }
        let endpoint = try #require(try await thread.value)
        // Closed with the body: the port can be bound again. libzmq closes a socket's listener on
        // its I/O thread shortly after zmq_close returns, so the bind is tried for up to 10 s.
        let rebound = try await onSocketThread {
            let again = try Socket(context, type: .pull)
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                do {
                    try again.bind(endpoint)
                    return try again.lastEndpoint()
                } catch  where ContinuousClock.now < deadline {
                    usleep(10_000)
                }
            }
        }
        #expect(rebound == endpoint)
    }
}

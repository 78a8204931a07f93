import Testing
import ZeroMQ

@Suite("Latch: one gate for threads and tasks", .timeLimit(.minutes(1)))
struct LatchTests {
    @Test func theFirstOpenWinsAndEveryWaiterSeesItsValue() async throws {
        let latch = Latch<Int>()
        #expect(latch.current == nil && !latch.isOpen)
        let thread = try SocketThread(name: "latch-wait") { latch.wait() }
        let task = Task { try await latch.wait() }
        #expect(latch.open(7))
        #expect(!latch.open(8))
        #expect(try await thread.value == 7)
        #expect(try await task.value == 7)
        #expect(await latch.value == 7)
        #expect(latch.current == 7)
    }

    @Test func aTimedWaitReturnsNilWhenNothingOpensIt() throws {
        let latch = Latch<Void>()
        let outcome = try SocketThread(name: "latch-timed") { () -> Bool in
            let started = ContinuousClock.now
            let opened = latch.wait(timeout: .milliseconds(50)) != nil
            return !opened && started.duration(to: .now) >= .milliseconds(50)
        }
        #expect(try outcome.join())
        latch.open()
        let opened = try SocketThread(name: "latch-timed") { latch.wait(timeout: .seconds(30)) != nil }
        #expect(try opened.join())
    }

    @Test func cancellingATaskEndsItsWaitAndLeavesTheLatchClosed() async throws {
        let latch = Latch<String>()
        let waiting = Task { try await latch.wait() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(!latch.isOpen)
        latch.open("later")
        #expect(try await latch.wait() == "later")
    }
}

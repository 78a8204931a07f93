import Testing
import ZeroMQ

@Suite("Polling", .timeLimit(.minutes(1)))
struct PollerTests {
    @Test func reportsWhichSocketIsReadable() async throws {
        let context = try Context()
        try await onSocketThread {
            let (_, quiet) = try pushPullPair(context, over: .inproc)
            let (push, busy) = try pushPullPair(context, over: .tcp)
            var poller = Poller()
            poller.register(quiet, for: .readable)
            let busyIndex = poller.register(busy, for: .readable)

            #expect(try poller.poll(timeout: .milliseconds(20)) == [[], []])
            try push.send("batch")
            let ready = try poller.poll(timeout: .seconds(5))
            #expect(ready == [[], .readable])
            #expect(busyIndex == 1)
            #expect(try busy.tryReceive()?.string(at: 0) == "batch")
        }
    }

    @Test func reportsAWritablePush() async throws {
        let context = try Context()
        try await onSocketThread {
            // The PULL end stays open: once it closes, the PUSH has no peer and is not writable.
            let (push, pull) = try pushPullPair(context, over: .inproc)
            var poller = Poller()
            poller.register(push, for: [.readable, .writable])
            #expect(try poller.poll(timeout: .seconds(1)) == [.writable])
            withExtendedLifetime(pull) {}
        }
    }
}

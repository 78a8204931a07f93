import Logging
import LossWire
import Testing
import ZeroMQ

@testable import LossAggregator

@Suite("The record link's acknowledger")
struct LinkAcknowledgerTests {
    /// Records of links `links`, one each, from a real DEALER to the ROUTER the acknowledger reads;
    /// then the statistics forget them (idle past `stream_idle`) and the acknowledger looks again.
    /// Returns how many links it knew after the records and after the look.
    private func knownLinks(links: [String], stateFile: Bool) async throws -> (before: Int, after: Int) {
        try await SocketThread.run(name: "link-test") { () throws -> (before: Int, after: Int) in
            let context = try Context()
            let address = "inproc://link-acknowledger-\(links.joined())-\(stateFile)"
            let router = try Socket(context, type: .router)
            defer { router.close() }
            try router.setOption(.linger(.zero))
            try router.bind(address)
            let dealer = try Socket(context, type: .dealer)
            defer { dealer.close() }
            try dealer.setOption(.linger(.zero))
            try dealer.connect(address)
            let aggregator = Aggregator(parameters: AggregationParameters(streamIdle: 60), startTime: 0)
            let checkpoints = stateFile ? LinkCheckpoints(loaded: [:]) : nil
            var acknowledger = LinkAcknowledger(
                aggregator: aggregator, credit: 1000, checkpoints: checkpoints, forgetInterval: .zero)
            var invalidLog = InvalidRecordLog()
            let logger = Logger(label: "test")
            for link in links {
                try dealer.send(
                    LinkMessage.record(link: link, seq: 0, first: 0).frames + [Records.loss(seq: 0, loss: 1).jsonLine()]
                )
                let message = try #require(try router.receive(timeout: .seconds(10), maxFrames: 8))
                acknowledger.handle(message, socket: router, at: 100, invalidLog: &invalidLog, logger: logger)
            }
            let before = acknowledger.knownLinks
            aggregator.housekeeping(at: 100 + 61)
            checkpoints?.publish(aggregator.aggregation.linkPositions)  // a save after the housekeeping
            acknowledger.acknowledgeSaved(socket: router)
            return (before, acknowledger.knownLinks)
        }
    }

    @Test(
        "links the statistics forgot (idle past stream_idle) are forgotten by the acknowledger, state file or not",
        arguments: [true, false])
    func idleLinksAreForgotten(stateFile: Bool) async throws {
        let known = try await knownLinks(links: ["a", "b", "c"], stateFile: stateFile)
        #expect(known.before == 3)
        #expect(known.after == 0)
    }
}

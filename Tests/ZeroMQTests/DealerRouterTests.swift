import Testing
import ZeroMQ

@Suite("DEALER and ROUTER", .timeLimit(.minutes(1)))
struct DealerRouterTests {
    /// A ROUTER bound at a fresh address of `transport` and a DEALER connected to it.
    private func dealerRouterPair(
        _ context: Context, over transport: TestTransport, routerOptions: [SocketOption] = [],
        dealerOptions: [SocketOption] = []
    ) throws -> (dealer: Socket, router: Socket) {
        let (dealer, router) = try connectedPair(
            context, over: transport, binding: .router, options: routerOptions, connecting: .dealer,
            options: dealerOptions)
        return (dealer, router)
    }

    @Test(arguments: TestTransport.allCases)
    func theRouterSeesTheRoutingIDAndAnswersThatPeer(over transport: TestTransport) async throws {
        let context = try Context()
        let (request, reply) = try await onSocketThread {
            let (dealer, router) = try dealerRouterPair(
                context, over: transport, dealerOptions: [.routingID(Array("sidecar-1".utf8))])
            try dealer.send([Array("record".utf8), [1, 2, 3], []])
            let received = try #require(try router.receive(timeout: .seconds(10)))
            // The ROUTER puts the peer's routing id in front of the frames the DEALER sent.
            let frames = (0..<received.frames.count).map { received.bytes(at: $0) }
            try router.send([received.bytes(at: 0), Array("ack".utf8), [9]])
            let answer = try #require(try dealer.receive(timeout: .seconds(10)))
            return (frames, (0..<answer.frames.count).map { answer.bytes(at: $0) })
        }
        #expect(request == [Array("sidecar-1".utf8), Array("record".utf8), [1, 2, 3], []])
        #expect(reply == [Array("ack".utf8), [9]])
    }

    @Test func twoDealersAreToldApart() async throws {
        let context = try Context()
        let answers = try await onSocketThread {
            let router = try Socket(context, type: .router)
            try router.bind(TestTransport.tcp.bindAddress())
            let address = try #require(try router.lastEndpoint())
            let first = try Socket(context, type: .dealer)
            let second = try Socket(context, type: .dealer)
            try first.connect(address)
            try second.connect(address)
            try first.send("one")
            try second.send("two")
            for _ in 0..<2 {
                let message = try #require(try router.receive(timeout: .seconds(10)))
                // Answer each with its own text, to its own routing id.
                try router.send([message.bytes(at: 0), Array(("re " + message.string(at: 1)).utf8)])
            }
            let one = try #require(try first.receive(timeout: .seconds(10))).string(at: 0)
            let two = try #require(try second.receive(timeout: .seconds(10))).string(at: 0)
            return [one, two]
        }
        #expect(answers == ["re one", "re two"])
    }

    @Test func routerMandatoryRefusesAnUnknownPeer() async throws {
        let context = try Context()
        let outcome = try await onSocketThread { () -> ZeroMQError? in
            let router = try Socket(context, type: .router)
            try router.setOption(.routerMandatory(true))
            try router.bind(TestTransport.inproc.bindAddress())
            do throws(ZeroMQError) {
                try router.send([Array("nobody".utf8), Array("hello".utf8)], mode: .dontWait)
                return nil
            } catch {
                return error
            }
        }
        #expect(outcome != nil)
        #expect(outcome != ZeroMQError.wouldBlock)
    }

    @Test func anEncryptedDealerReachesItsRouter() async throws {
        guard ZeroMQ.hasCapability("curve") else { return }
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let received = try await onSocketThread {
            let (dealer, router) = try dealerRouterPair(
                context, over: .tcp, routerOptions: server.serverOptions,
                dealerOptions: client.clientOptions(serverKey: server.publicKey))
            try dealer.send("sealed")
            return try router.receive(timeout: .seconds(10)).map { $0.string(at: 1) }
        }
        #expect(received == "sealed")
    }
}

import Synchronization
import Testing
import ZeroMQ

@Suite("CURVE", .enabled(if: ZeroMQ.hasCapability("curve")), .timeLimit(.minutes(1)))
struct CurveTests {
    @Test func keyPairsAreZ85AndDistinct() throws {
        let first = try CurveKeyPair.generate()
        let second = try CurveKeyPair.generate()
        #expect(first.publicKey.utf8.count == 40)
        #expect(first.secretKey.utf8.count == 40)
        #expect(first != second)
    }

    @Test func anEncryptedPushReachesThePull() async throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let payload = patternBytes(1 << 16)
        let received = try await onSocketThread {
            let (push, pull) = try pushPullPair(
                context, over: .tcp, pullOptions: server.serverOptions,
                pushOptions: client.clientOptions(serverKey: server.publicKey))
            try push.send([Array("header".utf8), payload])
            return try pull.receive(timeout: .seconds(10)).map { [$0.bytes(at: 0), $0.bytes(at: 1)] }
        }
        #expect(received == [Array("header".utf8), payload])
    }

    @Test func aClientWithTheWrongServerKeyGetsNothingThrough() async throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let received = try await onSocketThread {
            let (push, pull) = try pushPullPair(
                context, over: .tcp, pullOptions: server.serverOptions,
                pushOptions: client.clientOptions(serverKey: impostor.publicKey))
            try push.send("secret batch", mode: .timeout(.seconds(1)))
            return try pull.receive(timeout: .milliseconds(500)) != nil
        }
        #expect(!received)
    }

    @Test func aKeyOfTheWrongLengthIsRejectedWithAReason() async throws {
        let context = try Context()
        try await onSocketThread {
            let socket = try Socket(context, type: .push)
            #expect {
                try socket.setOption(.curveServerKey("short"))
            } throws: { error in
                "\(error)".contains("40 characters of Z85")
            }
        }
    }

    @Test("the authenticator lets allowed client keys in and keeps every other key out")
    func authenticatorAllowsOnlyListedKeys() async throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        let decisions = Mutex<[(String, Bool)]>([])
        let authenticator = try CurveAuthenticator(context: context, allowedClientKeys: [allowed.publicKey]) {
            decision in
            decisions.withLock { $0.append((decision.clientKey, decision.accepted)) }
        }
        defer { authenticator.stop() }
        let outcome = try await onSocketThread { () -> (Bool, Bool) in
            let pull = try Socket(context, type: .pull)
            defer { pull.close() }
            try pull.setOptions(server.serverOptions + [.zapDomain("lossd")])
            try pull.bind("tcp://127.0.0.1:*")
            let address = try #require(try pull.lastEndpoint())
            func deliver(_ pair: CurveKeyPair, _ text: String) throws -> Bool {
                let push = try Socket(context, type: .push)
                defer { push.close() }
                try push.setOptions(pair.clientOptions(serverKey: server.publicKey))
                try push.connect(address)
                try push.send(text, mode: .timeout(.seconds(1)))
                return try pull.receive(timeout: .seconds(2)).map { $0.string(at: 0) == text } ?? false
            }
            return (try deliver(stranger, "from a stranger"), try deliver(allowed, "from a friend"))
        }
        #expect(outcome.0 == false)
        #expect(outcome.1 == true)
        #expect(authenticator.rejectedCount >= 1)
        let seen = decisions.withLock { $0 }
        #expect(seen.contains { $0.0 == stranger.publicKey && !$0.1 })
        #expect(seen.contains { $0.0 == allowed.publicKey && $0.1 })
    }
}

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
}

import Synchronization
import Testing

@testable import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// The four ways a client and a server can disagree about CURVE, each with what the server's
/// monitor must report.
enum CurveMismatch: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case plainClientCurveServer, curveClientPlainServer, wrongServerKey, clientKeyNotAllowed

    var testDescription: String { rawValue }
}

@Suite("Handshake monitor", .enabled(if: ZeroMQ.hasCapability("curve")), .timeLimit(.minutes(1)))
struct HandshakeMonitorTests {
    /// Failures seen by one monitor, and a way to wait for one.
    final class Seen: Sendable {
        let failures = Mutex<[HandshakeFailure]>([])

        func append(_ failure: HandshakeFailure) { failures.withLock { $0.append(failure) } }

        /// Waits (on a socket thread) up to 5 s for a failure that matches.
        func wait(for match: (HandshakeFailure) -> Bool) -> HandshakeFailure? {
            for _ in 0..<500 {
                if let found = failures.withLock({ $0.first(where: match) }) { return found }
                sleepThread(milliseconds: 10)
            }
            return nil
        }
    }

    @Test(
        "each mismatch is reported on the server with the peer's address and the reason",
        arguments: CurveMismatch.allCases)
    func serverSide(mismatch: CurveMismatch) async throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let other = try CurveKeyPair.generate()
        let decisions = Mutex<[CurveAuthenticator.Decision]>([])
        let authenticator = try CurveAuthenticator(
            context: context, domains: ["test.input": [other.publicKey]]
        ) { decision in decisions.withLock { $0.append(decision) } }
        defer { authenticator.stop() }
        let serverSeen = Seen()
        let clientSeen = Seen()
        let outcome = try await onSocketThread { () -> (HandshakeFailure?, HandshakeFailure?, Bool) in
            let pull = try Socket(context, type: .pull)
            defer { pull.close() }
            if mismatch != .curveClientPlainServer {
                try pull.setOptions(server.serverOptions + [.zapDomain("test.input")])
            }
            let serverMonitor = try HandshakeMonitor(watching: pull) { serverSeen.append($0) }
            defer { serverMonitor.stop() }
            try pull.bind("tcp://127.0.0.1:*")
            let push = try Socket(context, type: .push)
            defer { push.close() }
            switch mismatch {
            case .plainClientCurveServer: break
            case .curveClientPlainServer, .clientKeyNotAllowed:
                try push.setOptions(client.clientOptions(serverKey: server.publicKey))
            case .wrongServerKey: try push.setOptions(client.clientOptions(serverKey: other.publicKey))
            }
            let clientMonitor = try HandshakeMonitor(watching: push) { clientSeen.append($0) }
            defer { clientMonitor.stop() }
            try push.connect(#require(try pull.lastEndpoint()))
            try push.send("a batch", mode: .timeout(.seconds(1)))
            let serverFailure = serverSeen.wait { failure in
                switch (mismatch, failure.reason) {
                case (.plainClientCurveServer, .mechanismMismatch), (.curveClientPlainServer, .mechanismMismatch),
                    (.wrongServerKey, .cryptographic), (.clientKeyNotAllowed, .refused(400)):
                    return true
                default: return false
                }
            }
            let clientFailure = clientSeen.wait { failure in
                switch (mismatch, failure.reason) {
                case (.clientKeyNotAllowed, .refused(400)): return true
                case (.clientKeyNotAllowed, _): return false
                case (_, .mechanismMismatch), (_, .closed): return true
                default: return false
                }
            }
            let delivered = try pull.receive(timeout: .milliseconds(300)) != nil
            return (serverFailure, clientFailure, delivered)
        }
        #expect(!outcome.2, "a message crossed a failed handshake")
        let serverFailure = try #require(outcome.0, "the server reported \(serverSeen.failures.withLock { $0 })")
        if mismatch == .clientKeyNotAllowed {
            // Refusals are reported before the connection closes; the ZAP request names the peer.
            #expect(serverFailure.side == .unknown)
            let refused = decisions.withLock { $0 }.filter { !$0.accepted }
            #expect(refused.map(\.address) == ["127.0.0.1"])
            #expect(refused.map(\.clientKey) == [client.publicKey])
            #expect(refused.map(\.domain) == ["test.input"])
        } else {
            #expect(serverFailure.side == .accepted)
            // The address is read when the accepted event is read; a connection that failed in the
            // meantime is reported without one (the correlation itself is tested below).
            #expect(
                serverFailure.peer == nil || serverFailure.peer?.hasPrefix("127.0.0.1:") == true, "\(serverFailure)")
        }
        let clientFailure = try #require(outcome.1, "the client reported \(clientSeen.failures.withLock { $0 })")
        if mismatch != .clientKeyNotAllowed {
            #expect(clientFailure.side == .connected)
            #expect(clientFailure.peer?.hasPrefix("tcp://127.0.0.1:") == true, "\(clientFailure)")
        }
    }

    @Test("a matching client and server report no failure, and the message arrives")
    func agreement() async throws {
        let context = try Context()
        let server = try CurveKeyPair.generate()
        let client = try CurveKeyPair.generate()
        let authenticator = try CurveAuthenticator(context: context, domains: ["test.input": [client.publicKey]])
        defer { authenticator.stop() }
        let seen = Seen()
        let received = try await onSocketThread { () -> String? in
            let pull = try Socket(context, type: .pull)
            defer { pull.close() }
            try pull.setOptions(server.serverOptions + [.zapDomain("test.input")])
            let monitor = try HandshakeMonitor(watching: pull) { seen.append($0) }
            defer { monitor.stop() }
            try pull.bind("tcp://127.0.0.1:*")
            let push = try Socket(context, type: .push)
            defer { push.close() }
            try push.setOptions(client.clientOptions(serverKey: server.publicKey))
            let pushMonitor = try HandshakeMonitor(watching: push) { seen.append($0) }
            defer { pushMonitor.stop() }
            try push.connect(#require(try pull.lastEndpoint()))
            try push.send("a batch", mode: .timeout(.seconds(5)))
            return try pull.receive(timeout: .seconds(5))?.string(at: 0)
        }
        #expect(received == "a batch")
        #expect(seen.failures.withLock { $0 }.isEmpty)
    }

    @Test("a failure is matched with the accepted connection its disconnect names, and so with its peer")
    func correlation() throws {
        let (server, client, clientPort, serverPort) = try tcpConnection()
        defer {
            close(server)
            close(client)
        }
        let reported = Mutex<[HandshakeFailure]>([])
        var correlator = HandshakeMonitor.Correlator { failure in reported.withLock { $0.append(failure) } }
        let bound = "tcp://127.0.0.1:\(serverPort)"
        let mismatch: UInt32 = 0x1100_0002  // ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        correlator.handle(.init(SocketEvent(event: SocketEvent.accepted, value: UInt32(server), endpoint: bound)))
        correlator.handle(.init(SocketEvent(event: SocketEvent.accepted, value: 999, endpoint: bound)))
        correlator.handle(
            .init(SocketEvent(event: SocketEvent.handshakeFailedProtocol, value: mismatch, endpoint: bound)))
        #expect(reported.withLock { $0 }.isEmpty, "reported before its disconnect named the connection")
        correlator.handle(.init(SocketEvent(event: SocketEvent.disconnected, value: UInt32(server), endpoint: bound)))
        // A refusal is reported at once; a failure whose disconnect never comes, without a peer.
        correlator.handle(.init(SocketEvent(event: SocketEvent.handshakeFailedAuth, value: 400, endpoint: bound)))
        correlator.handle(.init(SocketEvent(event: SocketEvent.handshakeFailedNoDetail, value: 104, endpoint: bound)))
        correlator.flush()
        // A connection this socket made is named by the address it dialled.
        correlator.handle(.init(SocketEvent(event: SocketEvent.connected, value: 7, endpoint: "tcp://10.0.0.10:5556")))
        correlator.handle(
            .init(SocketEvent(event: SocketEvent.handshakeFailedNoDetail, value: 32, endpoint: "tcp://10.0.0.10:5556")))
        correlator.handle(
            .init(SocketEvent(event: SocketEvent.disconnected, value: 7, endpoint: "tcp://10.0.0.10:5556")))
        let failures = reported.withLock { $0 }
        #expect(
            failures == [
                HandshakeFailure(
                    reason: .mechanismMismatch, side: .accepted, endpoint: bound, peer: "127.0.0.1:\(clientPort)"),
                HandshakeFailure(reason: .refused(statusCode: 400), side: .unknown, endpoint: bound, peer: nil),
                HandshakeFailure(reason: .closed(errno: 104), side: .unknown, endpoint: bound, peer: nil),
                HandshakeFailure(
                    reason: .closed(errno: 32), side: .connected, endpoint: "tcp://10.0.0.10:5556",
                    peer: "tcp://10.0.0.10:5556"),
            ])
    }

    @Test("a peer is read only from a descriptor accepted at the socket's port")
    func peerOfAcceptedDescriptor() throws {
        let (server, client, clientPort, serverPort) = try tcpConnection()
        defer { close(client) }
        #expect(PeerAddress.ofAccepted(server, at: "tcp://127.0.0.1:\(serverPort)") == "127.0.0.1:\(clientPort)")
        // The descriptor now belongs to another socket of the process (an HTTP connection).
        let otherPort = serverPort == 1 ? 2 : serverPort - 1
        #expect(PeerAddress.ofAccepted(server, at: "tcp://127.0.0.1:\(otherPort)") == nil)
        // An endpoint without a port (ipc) is not checked.
        #expect(PeerAddress.ofAccepted(server, at: "ipc:///tmp/x") == "127.0.0.1:\(clientPort)")
        close(server)
        #expect(PeerAddress.ofAccepted(server, at: "tcp://127.0.0.1:\(serverPort)") == nil)
    }

    @Test("an address read after the descriptor went to a later connection is dropped, not misattributed")
    func reusedDescriptor() {
        let bound = "tcp://127.0.0.1:5555"
        func accepted(_ descriptor: UInt32, _ peer: String?) -> HandshakeMonitor.Correlator.Event {
            var event = HandshakeMonitor.Correlator.Event(
                SocketEvent(event: SocketEvent.accepted, value: descriptor, endpoint: bound))
            event.acceptedPeer = peer
            return event
        }
        let mismatch: UInt32 = 0x1100_0002  // ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
        // Connection A (descriptor 12) failed and closed before its accepted event was read;
        // connection B took descriptor 12, so both reads gave B's address.
        let events: [HandshakeMonitor.Correlator.Event] = [
            accepted(12, "10.0.0.22:40000"),
            accepted(13, "10.0.0.23:40000"),
            .init(SocketEvent(event: SocketEvent.handshakeFailedProtocol, value: mismatch, endpoint: bound)),
            .init(SocketEvent(event: SocketEvent.disconnected, value: 12, endpoint: bound)),
            accepted(12, "10.0.0.22:40000"),
            accepted(14, nil),
            accepted(14, "10.0.0.24:40000"),
        ]
        let resolved = HandshakeMonitor.Correlator.withoutReusedDescriptors(events)
        #expect(
            resolved.map(\.acceptedPeer) == [
                nil, "10.0.0.23:40000", nil, nil, "10.0.0.22:40000", nil, "10.0.0.24:40000",
            ])
        let reported = Mutex<[HandshakeFailure]>([])
        var correlator = HandshakeMonitor.Correlator { failure in reported.withLock { $0.append(failure) } }
        for event in resolved { correlator.handle(event) }
        #expect(
            reported.withLock { $0 } == [
                HandshakeFailure(reason: .mechanismMismatch, side: .accepted, endpoint: bound, peer: nil)
            ])
    }

    /// An accepted TCP connection on loopback: (the accepted descriptor, the client's, the client's
    /// port, the listener's port).
    private func tcpConnection() throws -> (Int32, Int32, UInt16, UInt16) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(listener, raw, length) == 0)
                try #require(listen(listener, 1) == 0)
                try #require(getsockname(listener, raw, &length) == 0)
            }
        }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(connect(client, raw, length) == 0)
            }
        }
        let server = accept(listener, nil, nil)
        try #require(server >= 0)
        var local = sockaddr_in()
        var localLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &local) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(getsockname(client, raw, &localLength) == 0)
            }
        }
        return (server, client, UInt16(bigEndian: local.sin_port), UInt16(bigEndian: address.sin_port))
    }

    @Test("a monitor can only publish on inproc")
    func inprocOnly() async throws {
        let context = try Context()
        try await onSocketThread {
            let socket = try Socket(context, type: .pull)
            defer { socket.close() }
            #expect(throws: ZeroMQError.self) { try socket.startMonitor(at: "tcp://127.0.0.1:1", events: 0) }
        }
    }
}

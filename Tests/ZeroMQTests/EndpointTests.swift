import Testing
import ZeroMQ

@Suite("Endpoint parsing")
struct EndpointTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var defaultRole: Endpoint.Role
        var expected: [String]

        var testDescription: String { "\"\(text)\"" }
    }

    @Test(arguments: [
        Case(text: "@tcp://127.0.0.1:5555", defaultRole: .connect, expected: ["@tcp://127.0.0.1:5555"]),
        Case(text: ">tcp://127.0.0.1:5556", defaultRole: .bind, expected: [">tcp://127.0.0.1:5556"]),
        Case(text: "tcp://127.0.0.1:5555", defaultRole: .bind, expected: ["@tcp://127.0.0.1:5555"]),
        Case(text: "tcp://127.0.0.1:5555", defaultRole: .connect, expected: [">tcp://127.0.0.1:5555"]),
        Case(text: "  @tcp://127.0.0.1:*  ", defaultRole: .connect, expected: ["@tcp://127.0.0.1:*"]),
        Case(text: "ipc:///tmp/lossd.sock", defaultRole: .bind, expected: ["@ipc:///tmp/lossd.sock"]),
        Case(text: ">inproc://records", defaultRole: .bind, expected: [">inproc://records"]),
        Case(text: "tcp://[::1]:5555", defaultRole: .connect, expected: [">tcp://[::1]:5555"]),
        Case(
            text: "@tcp://127.0.0.1:5555,>ipc:///tmp/a, inproc://b", defaultRole: .connect,
            expected: ["@tcp://127.0.0.1:5555", ">ipc:///tmp/a", ">inproc://b"]),
    ])
    func parses(_ example: Case) throws {
        let endpoints = try Endpoint.parseList(example.text, defaultRole: example.defaultRole)
        #expect(endpoints.map(\.description) == example.expected)
        for endpoint in endpoints {
            #expect(try Endpoint(parsing: endpoint.description, defaultRole: .connect) == endpoint)
        }
    }

    @Test func splitsIntoParts() throws {
        let endpoint = try Endpoint(parsing: ">ipc:///tmp/lossd.sock", defaultRole: .bind)
        #expect(endpoint.role == .connect)
        #expect(endpoint.transport == .ipc)
        #expect(endpoint.address == "ipc:///tmp/lossd.sock")
    }

    @Test(arguments: [
        ("", "no endpoint"),
        ("   ", "no endpoint"),
        ("@", "empty"),
        ("udp://127.0.0.1:5555", "unknown transport \"udp\""),
        ("@@tcp://127.0.0.1:5555", "unknown transport \"@tcp\""),
        ("127.0.0.1:5555", "no transport"),
        ("tcp://", "empty"),
        ("tcp://127.0.0.1", "needs a host and a port"),
        ("tcp://127.0.0.1:", "needs a host and a port"),
        ("tcp://:5555", "needs a host and a port"),
        ("@tcp://127.0.0.1:5555,,>tcp://127.0.0.1:5556", "empty item"),
        ("@tcp://127.0.0.1:5555,", "empty item"),
    ])
    func rejects(_ text: String, reason: String) {
        #expect {
            _ = try Endpoint.parseList(text, defaultRole: .bind)
        } throws: { error in
            guard case ZeroMQError.invalidEndpoint(let given, let why) = error else { return false }
            return given == text && "\(why)".contains(reason) && "\(error)".contains("invalid endpoint")
        }
    }

    @Test func attachesAList() async throws {
        let context = try Context()
        let bound = try await onSocketThread {
            let socket = try Socket(context, type: .pull)
            let directory = try temporaryDirectory()
            let endpoints = try socket.attach("tcp://127.0.0.1:*,@ipc://\(directory)/in.sock", defaultRole: .bind)
            return (endpoints.map(\.role), try socket.lastEndpoint())
        }
        #expect(bound.0 == [.bind, .bind])
        #expect(bound.1?.hasPrefix("ipc://") == true)
    }
}

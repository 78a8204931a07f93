import Foundation
import Testing
import ZeroMQ

@Suite("Errors and library facts", .timeLimit(.minutes(1)))
struct ErrorTests {
    @Test func aPortInUseSaysWhatToDo() async throws {
        let context = try Context()
        try await onSocketThread {
            let first = try Socket(context, type: .pull)
            try first.bind("tcp://127.0.0.1:*")
            let endpoint = try #require(try first.lastEndpoint())
            let second = try Socket(context, type: .pull)
            #expect {
                try second.bind(endpoint)
            } throws: { error in
                guard case ZeroMQError.failed(_, let code, _) = error else { return false }
                let text = "\(error)"
                return code == (error as? ZeroMQError)?.errno
                    && text.hasPrefix("cannot bind \(endpoint): Address already in use — another lossd")
            }
        }
    }

    @Test func aMissingIpcDirectoryIsNamed() async throws {
        let context = try Context()
        try await onSocketThread {
            let socket = try Socket(context, type: .pull)
            let endpoint = "ipc:///tmp/lossd-no-such-directory-\(getpid())/in.sock"
            #expect {
                try socket.bind(endpoint)
            } throws: { error in
                "\(error)".hasPrefix("cannot bind \(endpoint): No such file or directory — the ipc path")
            }
        }
    }

    @Test func anUnknownTransportFailsInLibzmqToo() async throws {
        let context = try Context()
        try await onSocketThread {
            let socket = try Socket(context, type: .push)
            #expect(throws: ZeroMQError.self) { try socket.connect("udp://127.0.0.1:1") }
        }
    }

    @Test func aClosedSocketSaysSo() async throws {
        let context = try Context()
        try await onSocketThread {
            let socket = try Socket(context, type: .push)
            socket.close()
            socket.close()
            #expect(socket.isClosed)
            #expect(throws: ZeroMQError.socketClosed) { try socket.send("x") }
        }
    }

    @Test func versionAndCapabilities() {
        #expect(ZeroMQ.version >= ZeroMQ.Version(major: 4, minor: 3, patch: 0))
        #expect(ZeroMQ.version.description.split(separator: ".").count == 3)
        #expect(ZeroMQ.hasCapability("ipc"))
        #expect(!ZeroMQ.hasCapability("no-such-capability"))
    }
}

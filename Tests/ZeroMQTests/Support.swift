import Foundation
import Testing
import ZeroMQ

/// The transports every round trip runs over.
enum TestTransport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inproc, ipc, tcp

    var testDescription: String { rawValue }

    /// An address to bind a fresh socket at; tcp lets the system pick the port.
    func bindAddress() throws -> String {
        switch self {
        case .inproc: return "inproc://lossd-test-\(UUID().uuidString)"
        case .ipc: return "ipc://\(try temporaryDirectory())/s.sock"
        case .tcp: return "tcp://127.0.0.1:*"
        }
    }
}

/// A new, unique directory for ipc socket files (kept short: ipc paths are limited to ~100 bytes),
/// inside one directory per test process that is removed when the process exits.
func temporaryDirectory() throws -> String {
    let path = "\(processDirectory)/\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// `/tmp/lossd-zmq-<pid>`, removed at exit.
private let processDirectory: String = {
    atexit {
        try? FileManager.default.removeItem(atPath: "/tmp/lossd-zmq-\(getpid())")
    }
    return "/tmp/lossd-zmq-\(getpid())"
}()

/// Runs `body` on its own OS thread, so that blocking socket calls stay off the cooperative pool.
func onSocketThread<T: Sendable>(
    _ name: String = "zmq-test", _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await SocketThread.run(name: name, body)
}

/// A PULL socket bound at a fresh address of `transport` and a PUSH connected to it.
func pushPullPair(
    _ context: Context, over transport: TestTransport, pullOptions: [SocketOption] = [],
    pushOptions: [SocketOption] = []
) throws -> (push: Socket, pull: Socket) {
    let (push, pull) = try connectedPair(
        context, over: transport, binding: .pull, options: pullOptions, connecting: .push, options: pushOptions)
    return (push, pull)
}

/// A `binding` socket bound at a fresh address of `transport` (with `bindOptions`) and a
/// `connecting` one (with `connectOptions`) connected to it; returns (connecting, bound).
func connectedPair(
    _ context: Context, over transport: TestTransport, binding: SocketType, options bindOptions: [SocketOption],
    connecting: SocketType, options connectOptions: [SocketOption]
) throws -> (connected: Socket, bound: Socket) {
    let bound = try Socket(context, type: binding)
    try bound.setOptions(bindOptions)
    try bound.bind(transport.bindAddress())
    let connected = try Socket(context, type: connecting)
    try connected.setOptions(connectOptions)
    try connected.connect(#require(try bound.lastEndpoint()))
    return (connected, bound)
}

/// `count` bytes of a pattern with a prime period (so shifted or truncated copies differ) that
/// differs with `seed`; built by doubling, since a byte loop is slow in debug builds.
func patternBytes(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        let period = min(count, 251)
        for index in 0..<period {
            buffer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ Int(seed))
        }
        var filled = period
        while filled < count {
            let chunk = min(filled - filled % period, count - filled)
            memcpy(buffer.baseAddress! + filled, buffer.baseAddress!, chunk)
            filled += chunk
        }
        initialized = count
    }
}

/// Sleeps the calling OS thread (a socket thread, never a task).
func sleepThread(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    nanosleep(&request, nil)
}

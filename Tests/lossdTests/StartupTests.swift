import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every long-running command at start-up: a port or endpoint that is already taken ends it at
/// once with a message naming it, and SIGTERM ends it whenever it arrives.
///
/// One process at a time (`.serialized`), so that the suite does not crowd the other tests'
/// processes off the machine's cores.
@Suite("start-up of the long-running commands", .serialized, .timeLimit(.minutes(5)))
struct StartupTests {
    /// One way of starting a daemon command, its arguments built around a given port.
    struct Start: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: @Sendable (_ port: Int, _ folder: URL) -> [String]
        var testDescription: String { name }
    }

    /// Each command with its HTTP port or its input endpoint on `port`; every other port is free.
    static let takenPort: [Start] = [
        Start(name: "aggregate, HTTP port taken") { port, folder in
            ["aggregate", "--input", "@ipc://\(folder.path)/in.sock", "--http", "127.0.0.1:\(port)"]
        },
        Start(name: "aggregate, input taken") { port, _ in
            ["aggregate", "--input", "@tcp://127.0.0.1:\(port)", "--http", "127.0.0.1:0"]
        },
        Start(name: "serve, HTTP port taken") { port, _ in
            ["serve", "--input", "@tcp://127.0.0.1:*", "--http", "127.0.0.1:\(port)"]
        },
        Start(name: "serve, input taken") { port, _ in
            ["serve", "--input", "@tcp://127.0.0.1:\(port)", "--http", "127.0.0.1:0"]
        },
        Start(name: "serve, records input taken") { port, _ in
            [
                "serve", "--input", "@tcp://127.0.0.1:*", "--records-input", "@tcp://127.0.0.1:\(port)", "--http",
                "127.0.0.1:0",
            ]
        },
        Start(name: "sidecar, input taken") { port, _ in
            ["sidecar", "--input", "@tcp://127.0.0.1:\(port)", "--output", "-"]
        },
        Start(name: "demo, HTTP port taken") { port, _ in
            ["demo", "--http", "127.0.0.1:\(port)", "--seconds", "30", "--boxes", "100"]
        },
    ]

    @Test("a port or endpoint already taken: exit status 1 within 10 s, naming it", arguments: takenPort)
    func portTaken(_ start: Start) async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (fd, port) = try #require(TestEnvironment.listeningSocket())
        defer { close(fd) }
        let daemon = try LossdDaemon(start.arguments(port, folder), folder: folder)
        let exited = try await daemon.waitForExit(timeout: .seconds(10))
        let lifetime = exited.map { daemon.launched.duration(to: $0) }
        #expect(
            lifetime.map { $0 < .seconds(10) } == true,
            "ran for \(lifetime.map(\.description) ?? "more than 10 s"):\n\(daemon.stderr)")
        #expect(
            daemon.process.terminationStatus == 1, "exit status \(daemon.process.terminationStatus):\n\(daemon.stderr)")
        #expect(daemon.stderr.contains("127.0.0.1:\(port)"), "the message names the port:\n\(daemon.stderr)")
    }

    /// Each command started on free ports, with its state and outputs in `folder`.
    static let commands: [Start] = [
        Start(name: "aggregate") { _, folder in
            [
                "aggregate", "--input", "@ipc://\(folder.path)/in.sock", "--http", "127.0.0.1:0",
                "--state", "\(folder.path)/state.json", "--snapshots", "\(folder.path)/stats.jsonl",
            ]
        },
        Start(name: "sidecar") { _, folder in
            [
                "sidecar", "--input", "@ipc://\(folder.path)/in.sock", "--output", "\(folder.path)/out.jsonl",
                "--record", "\(folder.path)/in.lossrec",
            ]
        },
        Start(name: "serve") { _, folder in
            [
                "serve", "--input", "@ipc://\(folder.path)/in.sock", "--http", "127.0.0.1:0",
                "--state", "\(folder.path)/state.json",
            ]
        },
        Start(name: "demo") { _, _ in
            ["demo", "--http", "127.0.0.1:0", "--seconds", "30", "--boxes", "100"]
        },
    ]

    /// When SIGTERM arrives after the process started: from at once to well after start-up.
    static let delays: [Int] = [0, 10, 30, 100, 300, 1000]

    @Test("SIGTERM at any moment of start-up stops the command within 10 s", arguments: commands, delays)
    func sigtermDuringStartup(_ start: Start, afterMilliseconds delay: Int) async throws {
        let folder = try TestEnvironment.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let daemon = try LossdDaemon(start.arguments(0, folder), folder: folder)
        try await Task.sleep(for: .milliseconds(delay))
        let signalled = ContinuousClock.now
        kill(daemon.process.processIdentifier, SIGTERM)
        let exited = try await daemon.waitForExit(timeout: .seconds(10))
        let stopping = exited.map { signalled.duration(to: $0) }
        #expect(
            stopping.map { $0 < .seconds(10) } == true,
            """
            took \(stopping.map(\.description) ?? "more than 10 s") to stop after SIGTERM (sent \(delay) ms after \
            start):\n\(daemon.stderr)
            """
        )
        // Stopped by the signal itself (before lossd traps it), or gracefully: never a failure.
        let bySignal = daemon.process.terminationReason == .uncaughtSignal
        let status = daemon.process.terminationStatus
        #expect(bySignal || status == 0, "exit status \(status):\n\(daemon.stderr)")
    }
}

import Foundation
import LossdTestSupport
import Testing
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A long-running `lossd` process (e.g. `lossd aggregate`) whose output goes to files, stopped with
/// a signal by the test, and killed at the latest when the value is released.
final class LossdDaemon: @unchecked Sendable {
    // Only the test's task touches `process` after start; the finished status is read after exit.
    let process = Process()
    let stdoutPath: URL
    let stderrPath: URL
    /// When the process was started.
    let launched: ContinuousClock.Instant
    /// Opened with the moment the process exited, by Foundation's process monitor (not by the
    /// test's own tasks, which a busy test run can hold up).
    let exited = Latch<ContinuousClock.Instant>()

    /// Starts `lossd arguments…` with its output in `folder`.
    convenience init(_ arguments: [String], folder: URL, name: String = "lossd") throws {
        try self.init(executable: LossdProcess.executable, arguments, folder: folder, name: name)
    }

    /// Starts another server (e.g. prometheus) the same way.
    static func external(_ program: String, _ arguments: [String], folder: URL, name: String) throws -> LossdDaemon {
        try LossdDaemon(executable: URL(fileURLWithPath: program), arguments, folder: folder, name: name)
    }

    private init(executable: URL, _ arguments: [String], folder: URL, name: String) throws {
        stdoutPath = folder.appendingPathComponent("\(name).stdout")
        stderrPath = folder.appendingPathComponent("\(name).stderr")
        _ = FileManager.default.createFile(atPath: stdoutPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: stdoutPath)
        process.standardError = try FileHandle(forWritingTo: stderrPath)
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.open(.now) }
        launched = .now
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// What the process wrote to standard error so far.
    var stderr: String { (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until `GET /healthz` answers on `port` (at most `timeout` seconds); fails with the
    /// process's standard error if it exits first.
    func waitForHTTP(port: Int, timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else {
                Issue.record("lossd exited with status \(process.terminationStatus) before serving HTTP:\n\(stderr)")
                throw CancellationError()
            }
            if let response = try? await HTTPGet.fetch(port: port, path: "/healthz", timeout: 2), response.status == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("lossd did not serve HTTP on port \(port) within \(timeout) s:\n\(stderr)")
        throw CancellationError()
    }

    /// Waits, on a thread of its own, at most `timeout` seconds for the process to exit: the
    /// moment it exited, or nil (and the process is killed) if it was still running.
    func waitForExit(timeout: Duration) async throws -> ContinuousClock.Instant? {
        let exited = self.exited
        let instant = try await SocketThread.run(name: "test-wait") { exited.wait(timeout: timeout) }
        if instant == nil { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return instant
    }

    /// Sends `signal` and waits at most `timeout` seconds for the exit status (SIGKILL after that).
    func stop(_ signal: Int32 = SIGTERM, timeout: Double = 30) async throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("lossd did not exit within \(timeout) s of signal \(signal):\n\(stderr)")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Ports, folders, programs and records for tests that run lossd and other servers.
enum TestEnvironment {
    /// A currently free TCP port on 127.0.0.1 (bound to port 0, read back, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw CancellationError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A TCP socket listening on a free port of 127.0.0.1, to make that port busy; close `fd` after.
    static func listeningSocket() -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard listening else {
            close(fd)
            return nil
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A short temporary folder (ipc socket paths are limited to about 100 bytes).
    static func folder() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp").appendingPathComponent("lossd-t-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The absolute path of `name` on `PATH`, or nil.
    static func program(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Pushes `lines` to `address` from a thread of its own and waits until they are handed over.
    static func push(_ lines: [[UInt8]], to address: String) async throws {
        try await SocketThread.run(name: "test-push") {
            let context = try Context()
            let socket = try Socket(context, type: .push)
            defer { socket.close() }
            try socket.setOptions([.linger(.seconds(10))])
            try socket.connect(address)
            for line in lines { try socket.send([line]) }
        }
    }

    /// Runs `program arguments…` to its end: exit status and output (standard output and error).
    static func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await SocketThread.run(name: "test-run") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }
}

import Foundation

/// Runs the real `lossd` binary built next to the test bundle, with a time limit.
struct LossdProcess {
    /// What a finished run printed and how it exited.
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The standard-output lines parsed as JSON objects (non-JSON lines are skipped).
        var jsonLines: [[String: Any]] {
            stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }
        }
    }

    /// The `lossd` executable: `$LOSSD_BIN`, or the one beside this test bundle.
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["LOSSD_BIN"] { return URL(fileURLWithPath: path) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("lossd")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/lossd")
    }

    /// Runs `lossd arguments…` and waits at most `timeout` seconds (then kills it and reports 137).
    static func run(_ arguments: [String], timeout: TimeInterval = 60) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain both pipes while the process runs so that a large output cannot block it.
        let outData = Drain(stdout.fileHandleForReading), errData = Drain(stderr.fileHandleForReading)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: outData.text(), stderr: errData.text())
    }

    /// A temporary folder for one test, removed by the caller with `cleanUp`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Reads a pipe to its end on a background thread.
private final class Drain: @unchecked Sendable {
    // `data` is written by the reading thread and read after `done` is signalled.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

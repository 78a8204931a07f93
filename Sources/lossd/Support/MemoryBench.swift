import Foundation
import LossPipeline
import LossSynthesis
import SSDLoss
import ZeroMQ

/// Floods a real `lossd sidecar` process and reads its peak resident memory (VmHWM).
///
/// The sidecar is this same executable started as a child, so the figure is its own: the sender
/// and the sink live in the benchmark's process. SPEC §7's bound is
/// `(queue + workers + 1) × message bytes + 64 MiB`.
struct MemoryBench {
    var spec: SyntheticBatchSpec
    var messages: Int
    var workers: Int
    var queue: Int

    struct Result {
        var peakBytes: Int
        var startBytes: Int
        var messageBytes: Int
        var bound: Int
        var received: Int
    }

    func run() async throws -> Result {
        let folder = FileManager.default.temporaryDirectory.path
        let tag = UUID().uuidString.prefix(8)
        let input = "ipc://\(folder)/lossd-mem-in-\(tag)", output = "ipc://\(folder)/lossd-mem-out-\(tag)"
        let message = SyntheticBatchGenerator(spec: spec).message(step: 100)
        let context = try Context()
        let count = messages
        let sinkReady = Latch<Void>()
        let sink = try SocketThread<Int>(name: "mem-sink", context: context, type: .pull) { socket in
            try socket.setOptions([.linger(.zero)])
            try socket.bind(output)
            sinkReady.open()
            var records = 0
            while records < count, try socket.receive(timeout: .seconds(120)) != nil { records += 1 }
            return records
        }
        try await sinkReady.wait()

        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = [
            "sidecar", "--input", "@" + input, "--output", ">" + output, "--output-mode", "push", "--workers",
            "\(workers)",
            "--queue", "\(queue)", "--status-interval-seconds", "0", "--log-level", "warning",
            "--max-message-bytes", "\(max(1 << 30, message.totalBytes))",
        ]
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        defer { if child.isRunning { child.terminate() } }
        try await Task.sleep(for: .milliseconds(300))
        let start = Self.peakResident(of: child.processIdentifier) ?? 0

        try await SocketThread<Void>.run(name: "mem-push") {
            let socket = try Socket(context, type: .push)
            defer { socket.close() }
            try socket.setOptions([.sendHighWaterMark(1), .linger(.seconds(60))])
            try socket.connect(input)
            for _ in 0..<count { try socket.send(zeroCopy: message.frames, owner: message) }
        }
        let received = try await sink.value
        let peak = Self.peakResident(of: child.processIdentifier) ?? 0
        child.terminate()
        child.waitUntilExit()
        let bound = (queue + workers + 1) * message.totalBytes + 64 << 20
        return Result(
            peakBytes: peak, startBytes: start, messageBytes: message.totalBytes, bound: bound, received: received)
    }

    /// VmHWM of a process, in bytes.
    static func peakResident(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}

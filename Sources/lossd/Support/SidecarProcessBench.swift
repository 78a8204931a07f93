import Foundation
import LossBench
import LossPipeline
import LossSynthesis
import LossWire
import ZeroMQ

/// Batches per second through real `lossd sidecar` processes that differ only in their
/// environment, timed side by side: the allocator study of docs/PERFORMANCE.md.
///
/// Each variant is this executable started as a child sidecar with the variant's environment
/// (the benchmark's own malloc settings removed first); the sender and the sink live in the
/// benchmark's process. Every repetition times each variant once, in turn, so that a machine
/// whose speed drifts weighs on them alike; a variant's figure against the first one's is the
/// median of the ratios of the runs taken back to back.
struct SidecarProcessBench {
    /// A child's environment: the variables it sets (a nil value removes one).
    struct Variant {
        var label: String
        var environment: [String: String?]

        /// The sidecar as it runs by default: no malloc setting from the user.
        static let standard = Variant(label: "default", environment: [:])
        /// The setting the Docker image carried before lossd tuned its own allocator.
        static let tunables = Variant(
            label: "GLIBC_TUNABLES",
            environment: [
                "GLIBC_TUNABLES":
                    "glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295:"
                    + "glibc.malloc.arena_max=1"
            ])

        /// Parses `LABEL=NAME=VALUE[,NAME=VALUE…]` (`NAME=` alone removes NAME).
        static func parse(_ text: String) -> Variant? {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
            var environment: [String: String?] = [:]
            for setting in text[text.index(after: equals)...].split(separator: ",") {
                guard let sign = setting.firstIndex(of: "="), sign != setting.startIndex else { return nil }
                let value = String(setting[setting.index(after: sign)...])
                environment[String(setting[..<sign])] = value.isEmpty ? String?.none : value
            }
            return Variant(label: String(text[..<equals]), environment: environment)
        }
    }

    var spec: SyntheticBatchSpec
    var transport: PipelineBenchmark.Transport
    var messages: Int
    var workers: Int
    var repetitions: Int
    var variants: [Variant]

    struct Result {
        var bench: SidecarProcessBench
        /// Seconds per run of `messages` batches, per variant.
        var timings: [Timings]
        var messageBytes: Int

        /// Median batches per second of variant `index`.
        func batchesPerSecond(_ index: Int) -> Double { Double(bench.messages) / timings[index].median }
        /// Variant `index`'s batches per second over the first variant's (the default sidecar),
        /// run by run.
        func relativeToDefault(_ index: Int) -> Double { timings[0].medianRatio(to: timings[index]) }
        /// The default sidecar's batches per second over variant `index`'s, run by run.
        func defaultRelative(to index: Int) -> Double { timings[index].medianRatio(to: timings[0]) }
    }

    /// The variables the benchmark's own process may carry that would change a child's allocator.
    static let mallocVariables = ["GLIBC_TUNABLES", "LD_PRELOAD", ReceiveBufferMemory.environmentVariable]

    func run() async throws -> Result {
        let message = SyntheticBatchGenerator(spec: spec).message(step: 100)
        var timings = Array(repeating: Timings(), count: variants.count)
        for _ in 0..<repetitions {
            for (index, variant) in variants.enumerated() {
                timings[index].add(try await time(message, variant: variant))
            }
        }
        return Result(bench: self, timings: timings, messageBytes: message.totalBytes)
    }

    /// One run: a fresh child, one batch to warm it up, then `messages` batches timed to their last record.
    private func time(_ message: WireMessage, variant: Variant) async throws -> Duration {
        let context = try Context()
        let address =
            transport == .tcp
            ? "tcp://127.0.0.1:*"
            : "ipc://\(FileManager.default.temporaryDirectory.path)/lossd-bench-\(UUID().uuidString.prefix(8))"
        let count = messages + 1
        let sinkBound = Latch<String>()
        // `started` opens with the first record (or when the sink gives up), `finished` when the
        // sink's thread ends: the sender waits on them instead of polling.
        let started = Latch<Void>(), finished = Latch<Void>()
        let sink = try SocketThread<ContinuousClock.Instant>(name: "bench-sink", context: context, type: .pull) {
            socket in
            defer {
                started.open()
                finished.open()
            }
            try socket.setOptions([.linger(.zero)])
            try socket.bind(transport == .tcp ? address : address + "-out")
            sinkBound.open(try socket.lastEndpoint() ?? "")
            for received in 0..<count {
                guard try socket.receive(timeout: .seconds(120)) != nil else {
                    throw BenchError.noRecords(variant.label)
                }
                if received == 0 { started.open() }
            }
            return .now
        }
        let sinkEndpoint = try await sinkBound.wait()
        let senderBound = Latch<String>()
        let sender = try SocketThread<ContinuousClock.Instant>(name: "bench-push", context: context, type: .push) {
            socket in
            try socket.setOptions([.sendHighWaterMark(1), .linger(.seconds(30))])
            try socket.bind(transport == .tcp ? address : address + "-in")
            senderBound.open(try socket.lastEndpoint() ?? "")
            try socket.send(zeroCopy: message.frames, owner: message)
            started.wait()
            let start = ContinuousClock.now
            for _ in 1..<count where !finished.isOpen { try socket.send(zeroCopy: message.frames, owner: message) }
            // The socket stays open until the records are in: closing it would drop the
            // connection while the child still reads from it.
            finished.wait()
            return start
        }
        let inputEndpoint = try await senderBound.wait()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = [
            "sidecar", "--input", ">" + inputEndpoint, "--output", ">" + sinkEndpoint, "--output-mode", "push",
            "--workers", "\(workers)",
            "--status-interval-seconds", "0", "--log-level", "warning",
            "--max-message-bytes", "\(max(1 << 30, message.totalBytes))",
        ]
        var environment = ProcessInfo.processInfo.environment
        for name in Self.mallocVariables { environment[name] = nil }
        for (name, value) in variant.environment { environment[name] = value }
        child.environment = environment
        child.standardOutput = FileHandle.nullDevice
        try child.run()
        defer {
            if child.isRunning { child.terminate() }
            child.waitUntilExit()
        }
        let startedAt = try await sender.value
        let finishedAt = try await sink.value
        if transport == .ipc {
            for suffix in ["-in", "-out"] { unlink(String(address.dropFirst("ipc://".count)) + suffix) }
        }
        return startedAt.duration(to: finishedAt)
    }

    enum BenchError: Error, CustomStringConvertible {
        case noRecords(String)

        var description: String {
            switch self {
            case .noRecords(let label):
                "the \(label) sidecar sent no record for two minutes; is the executable runnable as `lossd sidecar`?"
            }
        }
    }
}

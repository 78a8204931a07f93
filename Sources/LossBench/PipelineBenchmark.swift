import Foundation
import Logging
import LossPipeline
public import LossSynthesis
import LossWire
import SSDLoss
import ZeroMQ

/// Times batches through a real sidecar against a bare libzmq PUSH → PULL of the same messages.
///
/// Both runs use the same sender (a PUSH thread sending one synthetic message `messages` times,
/// without copying it) over the same transport; the floor's receiver only receives and drops,
/// the sidecar decodes, computes and sends one record per batch to a PULL sink. The figure of
/// merit is the ratio of their batches per second, measured in the same process and run.
public struct PipelineBenchmark: Sendable {
    /// The transport between sender and receiver.
    public enum Transport: String, Sendable, CaseIterable {
        /// TCP over 127.0.0.1.
        case tcp
        /// A Unix domain socket in the temporary folder.
        case ipc
    }

    /// The batch sent.
    public var spec: SyntheticBatchSpec
    /// The transport.
    public var transport: Transport
    /// Messages per timed run.
    public var messages: Int
    /// The sidecar's worker threads.
    public var workers: Int
    /// Timed runs of each of floor and sidecar.
    public var repetitions: Int

    /// Creates a benchmark.
    public init(
        spec: SyntheticBatchSpec, transport: Transport = .tcp, messages: Int = 40, workers: Int = 2,
        repetitions: Int = 3
    ) {
        self.spec = spec
        self.transport = transport
        self.messages = max(1, messages)
        self.workers = max(1, workers)
        self.repetitions = max(1, repetitions)
    }

    /// One configuration's figures.
    public struct Result: Sendable {
        /// The benchmark that was run.
        public var benchmark: PipelineBenchmark
        /// Seconds per run of `messages` batches through the bare PUSH → PULL.
        public var bare: Timings
        /// Seconds per run of `messages` batches through the sidecar, to the last record.
        public var sidecar: Timings
        /// Bytes of one message (header and tensors).
        public var messageBytes: Int
        /// Loss records received in the last sidecar run (all of them, or the run is invalid).
        public var records: Int

        /// Median batches per second through the bare transport.
        public var bareBatchesPerSecond: Double { Double(benchmark.messages) / bare.median }
        /// Median batches per second through the sidecar.
        public var batchesPerSecond: Double { Double(benchmark.messages) / sidecar.median }
        /// Sidecar batches per second over bare ones: the median over repetitions of the bare
        /// run's time over the sidecar run's that followed it (see ``Timings/medianRatio(to:)``).
        public var ratio: Double { bare.medianRatio(to: sidecar) }
        /// Bytes per box on the wire.
        public var bytesPerBox: Double { Double(messageBytes) / Double(benchmark.spec.shape.boxCount) }
    }

    /// Runs floor and sidecar alternately, `repetitions` times each.
    public func run() async throws -> Result {
        let message = SyntheticBatchGenerator(spec: spec).message(step: 100)
        var bare = Timings(), sidecar = Timings()
        var records = 0
        for _ in 0..<repetitions {
            bare.add(try await timeBare(message))
            let (duration, count) = try await timeSidecar(message)
            sidecar.add(duration)
            records = count
        }
        return Result(benchmark: self, bare: bare, sidecar: sidecar, messageBytes: message.totalBytes, records: records)
    }

    /// A fresh address for this transport: tcp lets the OS choose the port.
    private func address(_ name: String) -> String {
        switch transport {
        case .tcp: "tcp://127.0.0.1:*"
        case .ipc:
            "ipc://\(FileManager.default.temporaryDirectory.path)/lossd-bench-\(name)-\(UUID().uuidString.prefix(8))"
        }
    }

    private func timeBare(_ message: WireMessage) async throws -> Duration {
        let context = try Context()
        let count = messages
        let bound = Latch<String>()
        let receiver = try SocketThread<Void>(name: "bench-pull", context: context, type: .pull) { socket in
            try socket.setOptions([.receiveHighWaterMark(1), .linger(.zero)])
            try socket.bind(address("bare"))
            bound.open(try socket.lastEndpoint() ?? "")
            for _ in 0..<count { _ = try socket.receive() }
        }
        let endpoint = try await bound.wait()
        let started = ContinuousClock.now
        try await send(message, to: endpoint, context: context)
        try await receiver.value
        return started.duration(to: .now)
    }

    /// The time from the first send to the last loss record (and, with `recording`, to the last
    /// message written to it), and the loss records the sink received.
    func timeSidecar(
        _ message: WireMessage, recording: (path: String, version: RecordingFormat.Version)? = nil
    ) async throws -> (Duration, Int) {
        let context = try Context()
        let count = messages
        let sinkBound = Latch<String>()
        let sink = try SocketThread<Int>(name: "bench-sink", context: context, type: .pull) { socket in
            try socket.setOptions([.linger(.zero)])
            try socket.bind(address("sink"))
            sinkBound.open(try socket.lastEndpoint() ?? "")
            var losses = 0
            for _ in 0..<count {
                let record = try socket.receive()
                if record.frames.first.map({ $0.starts(with: Array(#"{"v":1,"kind":"loss""#.utf8)) }) ?? false {
                    losses += 1
                }
            }
            return losses
        }
        let sinkEndpoint = try await sinkBound.wait()
        var settings = SidecarSettings()
        settings.input = try Endpoint.parseList("@" + address("input"), defaultRole: .bind)
        settings.output = .zeromq(try Endpoint.parseList(">" + sinkEndpoint, defaultRole: .connect))
        // The sink is a bare PULL socket, the floor's own peer: the record link's DEALER needs an
        // aggregator's ROUTER, so the timed sidecar sends as a plain PUSH.
        settings.outputMode = .push
        settings.workers = workers
        settings.statusInterval = .zero
        settings.processor.limits.maxMessageBytes = Int.max
        settings.recordPath = recording?.path
        settings.recordVersion = recording?.version ?? RecordingFormat.currentVersion
        var logger = Logger(label: "lossd.bench")
        logger.logLevel = .warning
        let listening = Latch<String?>()
        let sidecar = Sidecar(settings: settings, logger: logger) { listening.open($0) }
        let running = Task {
            defer { listening.open(nil) }  // a sidecar that cannot start never listens: its error follows
            return try await sidecar.run()
        }
        guard let input = try await listening.wait() else {
            _ = try await running.value
            throw CancellationError()
        }
        let started = ContinuousClock.now
        try await send(message, to: input, context: context)
        let losses = try await sink.value
        if recording != nil { try await RecordBenchmark.waitUntilRecorded(count, by: sidecar) }
        let duration = started.duration(to: .now)
        sidecar.stop()
        _ = try await running.value
        return (duration, losses)
    }

    /// Sends `message` `messages` times from a PUSH socket, without copying its frames.
    private func send(_ message: WireMessage, to endpoint: String, context: Context) async throws {
        let count = messages
        try await SocketThread<Void>.run(name: "bench-push") {
            let socket = try Socket(context, type: .push)
            defer { socket.close() }
            try socket.setOptions([.sendHighWaterMark(1), .linger(.seconds(30))])
            try socket.connect(endpoint)
            for _ in 0..<count { try socket.send(zeroCopy: message.frames, owner: message) }
        }
    }
}

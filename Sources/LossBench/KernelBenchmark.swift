public import LossSynthesis
import LossWire
public import SSDLoss

/// Times the loss kernel on one synthetic batch against the memory floor of the same bytes.
///
/// The floor is ``MemoryFloor/streamSum(_:)`` over the batch's tensor frames: the least time any
/// loss could take, since every byte must be read once. Kernel and floor alternate in each
/// repetition so that both see the same machine state; the median of the repetitions' ratios is
/// the figure of merit, and it is comparable across machines where absolute times are not.
public struct KernelBenchmark: Sendable {
    /// The batch to time.
    public var spec: SyntheticBatchSpec
    /// The loss settings (mining and scores among them).
    public var parameters: LossParameters
    /// Timed repetitions of each of kernel and floor.
    public var repetitions: Int
    /// Whether every timed run starts with the batch out of the caches (see ``CacheEviction``).
    ///
    /// A batch of a few MB stays in cache between repetitions and reads faster per box than one
    /// of hundreds of MB, which cannot. Evicting first makes every size read its bytes from
    /// memory, so that ns per box compare the kernel's work across sizes, not the caches.
    public var coldCache: Bool
    /// The kernel's machine code, for both the kernel and the floor (see ``KernelPath``).
    public var path: KernelPath
    /// Whether the kernel collects the per-batch diagnostics (``MultiBoxLoss/collectsDiagnostics``),
    /// as the sidecar does; off times the kernel as it was before them.
    public var diagnostics: Bool

    /// Creates a benchmark.
    public init(
        spec: SyntheticBatchSpec, parameters: LossParameters, repetitions: Int = 9, coldCache: Bool = false,
        path: KernelPath = .active, diagnostics: Bool = true
    ) {
        self.spec = spec
        self.parameters = parameters
        self.repetitions = max(1, repetitions)
        self.coldCache = coldCache
        self.path = path
        self.diagnostics = diagnostics
    }

    /// One configuration's measured figures.
    public struct Result: Sendable {
        /// The batch that was timed.
        public var spec: SyntheticBatchSpec
        /// The loss settings used.
        public var parameters: LossParameters
        /// Kernel times.
        public var kernel: Timings
        /// Floor times over the same bytes.
        public var floor: Timings
        /// The bytes of tensor data per batch.
        public var bytes: Int
        /// The loss the kernel computed, so a reader can see the work was real.
        public var loss: Double
        /// Whether each timed run started with the batch out of the caches.
        public var coldCache: Bool
        /// The machine code that ran (the baseline when the CPU lacks the one asked for).
        public var path: KernelPath

        /// The median over repetitions of kernel time over the floor time taken just before it
        /// (see ``Timings/medianRatio(to:)``).
        public var ratio: Double { floor.median > 0 ? kernel.medianRatio(to: floor) : .infinity }
        /// Median kernel nanoseconds per box.
        public var nanosecondsPerBox: Double { kernel.median * 1e9 / Double(spec.shape.boxCount) }
        /// Bytes of tensor data per box.
        public var bytesPerBox: Double { Double(bytes) / Double(spec.shape.boxCount) }
    }

    /// Generates the batch and times it.
    public func run() throws -> Result {
        var run = try Run(self)
        let eviction = coldCache ? CacheEviction() : nil
        for _ in 0..<repetitions { try run.measure(evicting: eviction) }
        return run.result
    }

    /// Times several benchmarks round-robin: repetition r of each before repetition r + 1 of any
    /// (each runs its own count), so that a machine whose speed drifts during the run weighs on
    /// them alike. Every batch is generated first and kept until the end.
    public static func runInterleaved(_ benchmarks: [KernelBenchmark]) throws -> [Result] {
        var runs = try benchmarks.map { try Run($0) }
        let eviction = benchmarks.contains { $0.coldCache } ? CacheEviction() : nil
        let rounds = benchmarks.map(\.repetitions).max() ?? 0
        for round in 0..<rounds {
            for index in runs.indices where round < benchmarks[index].repetitions {
                try runs[index].measure(evicting: benchmarks[index].coldCache ? eviction : nil)
            }
        }
        return runs.map(\.result)
    }

    /// One benchmark's batch, kernel and timings so far.
    private struct Run {
        let benchmark: KernelBenchmark
        let spec: SyntheticBatchSpec
        /// The generated message: the batch's tensors are views into its frames.
        let message: WireMessage
        let batch: DecodedBatch
        let tensors: [UnsafeRawBufferPointer]
        let kernel: MultiBoxLoss
        let workspace = LossWorkspace()
        var loss: Double
        var sink: Double
        var kernelTimes = Timings()
        var floorTimes = Timings()

        /// Generates the batch and computes it once, untimed (the workspace grows to its size).
        init(_ benchmark: KernelBenchmark) throws {
            self.benchmark = benchmark
            let parameters = benchmark.parameters
            let generator = SyntheticBatchGenerator(
                spec: SyntheticBatchSpec(
                    shape: benchmark.spec.shape, layout: benchmark.spec.layout, dtype: benchmark.spec.dtype,
                    scores: parameters.scores, positiveFraction: benchmark.spec.positiveFraction,
                    ignoredFraction: benchmark.spec.ignoredFraction, seed: benchmark.spec.seed,
                    halfLifeSteps: benchmark.spec.halfLifeSteps))
            spec = generator.spec
            message = generator.message(step: 100)
            batch = try BatchDecoder.decode(message, defaults: parameters, limits: WireLimits(maxMessageBytes: Int.max))
            tensors = Array(message.frames.dropFirst())
            var configured = MultiBoxLoss(parameters: batch.parameters, path: benchmark.path)
            configured.collectsDiagnostics = benchmark.diagnostics
            kernel = configured
            let (batch, kernel, workspace) = (batch, kernel, workspace)
            loss = try batch.withInput {
                try kernel.compute($0, shape: batch.shape, dtype: batch.dtype, workspace: workspace).loss
            }
            sink = MemoryFloor.streamSum(tensors, path: benchmark.path)
        }

        /// One repetition: the floor, then the kernel, each after `evicting` the caches if given.
        mutating func measure(evicting eviction: CacheEviction?) throws {
            eviction?.evict()
            let (tensors, path) = (tensors, benchmark.path)
            sink += floorTimes.measure { MemoryFloor.streamSum(tensors, path: path) }
            eviction?.evict()
            let (kernel, batch, workspace) = (kernel, batch, workspace)
            loss = try kernelTimes.measure {
                try batch.withInput {
                    try kernel.compute($0, shape: batch.shape, dtype: batch.dtype, workspace: workspace).loss
                }
            }
        }

        var result: Result {
            withExtendedLifetime(sink) {}
            return Result(
                spec: spec, parameters: batch.parameters, kernel: kernelTimes, floor: floorTimes,
                bytes: tensors.reduce(0) { $0 + $1.count }, loss: loss, coldCache: benchmark.coldCache,
                path: benchmark.path.isSupported ? benchmark.path : .baseline)
        }
    }
}

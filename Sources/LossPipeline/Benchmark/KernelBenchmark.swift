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

    /// Creates a benchmark.
    public init(spec: SyntheticBatchSpec, parameters: LossParameters, repetitions: Int = 9, coldCache: Bool = false) {
        self.spec = spec
        self.parameters = parameters
        self.repetitions = max(1, repetitions)
        self.coldCache = coldCache
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
        let generator = SyntheticBatchGenerator(spec: SyntheticBatchSpec(
            shape: spec.shape, layout: spec.layout, dtype: spec.dtype, scores: parameters.scores,
            positiveFraction: spec.positiveFraction, ignoredFraction: spec.ignoredFraction,
            seed: spec.seed, halfLifeSteps: spec.halfLifeSteps))
        let message = generator.message(step: 100)
        let batch = try BatchDecoder.decode(message, defaults: parameters, limits: WireLimits(maxMessageBytes: Int.max))
        let tensors = Array(message.frames.dropFirst())
        let kernel = MultiBoxLoss(parameters: batch.parameters)
        let workspace = LossWorkspace()
        var loss = try kernel.compute(batch.input, shape: batch.shape, dtype: batch.dtype, workspace: workspace).loss
        var sink = MemoryFloor.streamSum(tensors)
        var kernelTimes = Timings()
        var floorTimes = Timings()
        let eviction = coldCache ? CacheEviction() : nil
        for _ in 0..<repetitions {
            eviction?.evict()
            sink += floorTimes.measure { MemoryFloor.streamSum(tensors) }
            eviction?.evict()
            loss = try kernelTimes.measure {
                try kernel.compute(batch.input, shape: batch.shape, dtype: batch.dtype, workspace: workspace).loss
            }
        }
        withExtendedLifetime(sink) {}
        return Result(spec: generator.spec, parameters: batch.parameters, kernel: kernelTimes, floor: floorTimes,
                      bytes: tensors.reduce(0) { $0 + $1.count }, loss: loss, coldCache: coldCache)
    }
}

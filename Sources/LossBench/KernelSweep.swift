public import LossSynthesis
public import SSDLoss

/// The settings that every kernel benchmark of a sweep shares: the batch shape, the repetitions
/// and the machine code.
///
/// ``KernelMatrix`` and ``DiagnosticsCost`` time many configurations of the same batch shape;
/// each builds its ``KernelBenchmark``s from one sweep, so that both read their settings the same
/// way and a new setting is added in one place.
public struct KernelSweep: Sendable {
    /// The shape of every batch.
    public var shape: BatchShape
    /// Timed repetitions of each benchmark.
    public var repetitions: Int
    /// The kernel's machine code.
    public var path: KernelPath

    /// Creates a sweep; `repetitions` below 1 count as 1.
    public init(
        shape: BatchShape = BatchShape(batch: 32, boxes: 8732, classes: 21), repetitions: Int = 15,
        path: KernelPath = .active
    ) {
        self.shape = shape
        self.repetitions = max(1, repetitions)
        self.path = path
    }

    /// The benchmark of one configuration with the sweep's settings.
    public func benchmark(
        layout: Layout, dtype: ScalarType, scores: ScoreKind, mining: MiningMode = .batch, diagnostics: Bool = true
    ) -> KernelBenchmark {
        KernelBenchmark(
            spec: SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype, scores: scores),
            parameters: LossParameters(mining: mining, scores: scores), repetitions: repetitions, path: path,
            diagnostics: diagnostics)
    }
}

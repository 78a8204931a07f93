import LossSynthesis
public import SSDLoss

/// What the per-batch diagnostics cost the kernel: the same batch timed with them off (the
/// kernel as it was before them) and on (as the sidecar runs it), alternating in one run.
///
/// Off and on run round-robin, repetition r of each before repetition r + 1 of either, so each
/// pair was taken back to back; the figure is the median over pairs of on / off
/// (``Timings/medianRatio(to:)``). The target: at most 1.05, diagnostics may not slow the
/// kernel by more than 5 %.
public struct DiagnosticsCost: Sendable {
    /// The largest on / off ratio that meets the target.
    public static let target = 1.05

    /// The configurations timed: the layouts and types trainers send most (keras float32
    /// probabilities, compact float16 logits), and one of each other kind.
    public static let configurations: [(layout: Layout, dtype: ScalarType, scores: ScoreKind)] = [
        (.keras, .float32, .probabilities), (.compact, .float16, .logits), (.keras, .float32, .logits),
        (.compact, .float32, .probabilities),
    ]

    /// The shape, repetitions and machine code of every configuration.
    public var sweep: KernelSweep

    /// Creates the comparison.
    public init(_ sweep: KernelSweep = KernelSweep()) {
        self.sweep = sweep
    }

    /// One configuration, measured both ways.
    public struct Row: Sendable {
        /// The kernel without diagnostics.
        public var off: KernelBenchmark.Result
        /// The kernel with them.
        public var on: KernelBenchmark.Result
        /// The median over back-to-back pairs of on / off.
        public var ratio: Double { on.kernel.medianRatio(to: off.kernel) }
        /// Whether the ratio meets ``DiagnosticsCost/target``.
        public var met: Bool { ratio <= DiagnosticsCost.target }
    }

    /// Times every configuration, each off and on interleaved; `progress` sees each row.
    public func run(progress: (Row) -> Void = { _ in }) throws -> [Row] {
        try Self.configurations.map { layout, dtype, scores in
            let both = [false, true].map { diagnostics in
                sweep.benchmark(layout: layout, dtype: dtype, scores: scores, diagnostics: diagnostics)
            }
            let results = try KernelBenchmark.runInterleaved(both)
            let row = Row(off: results[0], on: results[1])
            progress(row)
            return row
        }
    }
}

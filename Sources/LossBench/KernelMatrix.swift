public import LossSynthesis
public import SSDLoss

/// Every combination of layout, scalar type, score kind and mining mode, each timed against the
/// memory floor of its own bytes, with its target.
///
/// The targets: keras float32 probabilities at most 1.15 × its floor (the layout most trainers
/// send, and the one the SPEC holds to 1.25 ×), every other combination at most 2.5 ×. The
/// combinations run one after the other, each with its own batch, so that only one batch is in
/// memory at a time (float64 keras batches of the default shape are 150 MB).
public struct KernelMatrix: Sendable {
    /// The shape, repetitions and machine code of every combination.
    public var sweep: KernelSweep

    /// Creates a matrix.
    public init(_ sweep: KernelSweep = KernelSweep()) {
        self.sweep = sweep
    }

    /// One combination, measured.
    public struct Row: Sendable {
        /// The kernel's figures.
        public var result: KernelBenchmark.Result
        /// The largest ratio to the floor that meets the target.
        public var target: Double
        /// Whether the ratio meets it.
        public var met: Bool { result.ratio <= target }
    }

    /// The target ratio of one combination.
    public static func target(layout: Layout, dtype: ScalarType, scores: ScoreKind) -> Double {
        layout == .keras && dtype == .float32 && scores == .probabilities ? 1.15 : 2.5
    }

    /// The benchmarks, in the order they run and print.
    public var benchmarks: [KernelBenchmark] {
        var benchmarks: [KernelBenchmark] = []
        for layout in Layout.allCases {
            for dtype in [ScalarType.float32, .float16, .bfloat16, .float64] {
                for scores in ScoreKind.allCases {
                    for mining in MiningMode.allCases {
                        benchmarks.append(sweep.benchmark(layout: layout, dtype: dtype, scores: scores, mining: mining))
                    }
                }
            }
        }
        return benchmarks
    }

    /// Times every combination; `progress` sees each row as it is measured.
    public func run(progress: (Row) -> Void = { _ in }) throws -> [Row] {
        try benchmarks.map { benchmark in
            let result = try benchmark.run()
            let row = Row(
                result: result,
                target: Self.target(
                    layout: result.spec.layout, dtype: result.spec.dtype, scores: result.parameters.scores))
            progress(row)
            return row
        }
    }
}

import ArgumentParser
import Foundation
import LossBench
import LossPipeline
import LossSynthesis
import SSDLoss

/// `lossd bench`: the performance figures of the SPEC, as ratios to floors measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure lossd against floors measured in the same run.",
        discussion: """
            Every figure is a ratio to a floor taken in the same run on the same bytes, so that \
            the numbers mean the same on any machine. Measured code and floor alternate, and a \
            ratio is the median over repetitions of each run against the floor run next to it, \
            which keeps it steady on a machine whose speed drifts. Build in release mode first \
            (make bench does): debug builds are many times slower.
            """,
        subcommands: [
            SummaryBenchCommand.self, KernelBenchCommand.self, PipelineBenchCommand.self, AggregateBenchCommand.self,
            ReplayBenchCommand.self, RecordBenchCommand.self, DiagnosticsBenchCommand.self,
        ],
        defaultSubcommand: SummaryBenchCommand.self
    )
}

/// `lossd bench kernel`: the loss kernel against a vectorized read of the same bytes.
struct KernelBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Time the loss kernel on one batch against a vectorized read of the same bytes.",
        discussion: """
            The floor is one SIMD pass summing every byte of the batch's tensors: no loss can \
            take less, since it must read them all. The SPEC's targets: keras float32 ≤ 1.25 × \
            the floor, logits ≤ 2.5 ×. --matrix times every layout, scalar type, score kind and \
            mining mode against its own floor (targets: keras float32 probabilities ≤ 1.15 ×, \
            everything else ≤ 2.5 ×). Kernel and floor run the machine code that --path names \
            (default: the process's, which LOSSD_KERNEL=baseline forces to the baseline).

            Examples:
              lossd bench kernel
              lossd bench kernel --shape 32,8732,81 --scores logits
              lossd bench kernel --layout compact --dtype float16 --json
              lossd bench kernel --matrix --markdown
              lossd bench kernel --matrix --path baseline
              lossd bench kernel --shape 8,8732,21 --scores logits --n-neg-min 34928
              lossd bench kernel --profile torchvision --layout compact --scores logits
            """
    )

    @Option(help: "The batch shape as B,N,C.", transform: BatchShape.parse)
    var shape: BatchShape = BatchShape(batch: 32, boxes: 8732, classes: 21)

    @Option(help: "Scalar type: float32, float16, bfloat16 or float64.")
    var dtype: ScalarType = .float32

    @Option(help: "Tensor layout: keras or compact.")
    var layout: Layout = .keras

    @Option(help: "Class scores: probabilities or logits.")
    var scores: ScoreKind = .probabilities

    @Option(help: "Mining: batch or image.")
    var mining: MiningMode = .batch

    @Option(
        name: .customLong("n-neg-min"),
        help: "The keras profile's minimum of mined negatives (large values make logits take the exact pass).")
    var nNegMin: Int = 0

    @Option(
        help: ArgumentHelp(
            "Loss profile: keras (default), torchvision, mmdet or ssd.pytorch (the last three mine per image; use "
                + "--scores logits).")
    )
    var profile: LossProfile = .keras

    @Option(name: .customLong("repeat"), help: "Timed repetitions of kernel and floor.")
    var repetitions: Int = 9

    @Flag(help: "Evict the caches before every timed run, so that small batches read from memory as large ones must.")
    var cold = false

    @Flag(help: "Every layout × dtype × scores × mining, each against its floor, with its target and verdict.")
    var matrix = false

    @Option(
        help: "The kernel's machine code: auto, avx2 or baseline (default: the process's).",
        transform: KernelPathChoice.parse)
    var path: KernelPath = .active

    @Flag(help: "One JSON object per configuration instead of a table.")
    var json = false

    @Flag(help: "With --matrix: the table as Markdown rows, as docs/PERFORMANCE.md shows them.")
    var markdown = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1.") }
        guard nNegMin >= 0 else { throw ValidationError("--n-neg-min must be 0 or more.") }
        guard nNegMin == 0 || profile == .keras else {
            throw ValidationError("--n-neg-min is a keras setting; \(profile) mines with no minimum.")
        }
        guard !markdown || matrix else { throw ValidationError("--markdown goes with --matrix.") }
        guard !matrix || profile == .keras else {
            throw ValidationError("--matrix times the keras profile; leave out --profile, or drop --matrix.")
        }
    }

    func run() throws {
        if matrix {
            let rows = try KernelMatrix(KernelSweep(shape: shape, repetitions: repetitions, path: path)).run { row in
                if json { print(BenchReport.json(row)) }
            }
            if !json { print(markdown ? BenchReport.markdown(rows) : BenchReport.table(rows)) }
            return
        }
        let spec = SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype, scores: scores)
        let benchmark = KernelBenchmark(
            spec: spec,
            parameters: LossParameters(
                nNegMin: nNegMin, mining: profile == .keras ? mining : .image, scores: scores, profile: profile),
            repetitions: repetitions,
            coldCache: cold,
            path: path)
        let result = try benchmark.run()
        if json {
            print(BenchReport.json(result))
        } else {
            print(BenchReport.table([result]))
        }
    }
}

/// `--path auto|avx2|baseline`.
enum KernelPathChoice {
    static func parse(_ text: String) throws -> KernelPath {
        switch text.lowercased() {
        case "auto": return .fastest
        case "avx2":
            guard KernelPath.avx2.isSupported else {
                throw ValidationError("--path avx2: this CPU lacks AVX2, FMA or F16C; use auto or baseline.")
            }
            return .avx2
        case "baseline": return .baseline
        default: throw ValidationError("--path takes auto, avx2 or baseline, not '\(text)'.")
        }
    }
}

/// `lossd bench aggregate`: records per second through the aggregator on one thread.
struct AggregateBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Time the aggregator: record lines decoded and ingested per second on one thread.",
        discussion: """
            Generates loss records as sidecars write them (several runs, splits and sources, \
            increasing seqs, one error record in a hundred), then times what the daemon's \
            receiver does with each as it comes over a sidecar's record link (the default path): \
            decode the link's frames, admit the link seq, decode the JSON line and ingest it into \
            the statistics, lock included. A plain PUSH producer's bare line (plain), decoding \
            alone and ingesting alone are timed as well. The SPEC's target: at least 100,000 \
            records/s on one core.

            Examples:
              lossd bench aggregate
              lossd bench aggregate --records 200000 --batch 64
              lossd bench aggregate --json
            """
    )

    @Option(help: "Record lines per repetition.")
    var records: Int = 50_000

    @Option(help: "Images per batch: the length of each record's per_item.")
    var batch: Int = 32

    @Option(name: .customLong("repeat"), help: "Timed repetitions.")
    var repetitions: Int = 5

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard records >= 1 else { throw ValidationError("--records must be at least 1.") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1.") }
        guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1.") }
    }

    func run() throws {
        let result = try AggregatorBenchmark(records: records, batch: batch, repetitions: repetitions).run()
        print(json ? BenchReport.json(result) : BenchReport.table(result))
    }
}

extension BatchShape {
    /// Parses `B,N,C` (or `BxNxC`) from the command line.
    static func parse(_ text: String) throws -> BatchShape {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == "x" }).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard parts.count == 3, let b = parts[0], let n = parts[1], let c = parts[2], b >= 1, n >= 1, c >= 2 else {
            throw ValidationError(
                "--shape takes B,N,C with B ≥ 1, N ≥ 1, C ≥ 2 (for example 32,8732,21), not '\(text)'.")
        }
        return BatchShape(batch: b, boxes: n, classes: c)
    }
}

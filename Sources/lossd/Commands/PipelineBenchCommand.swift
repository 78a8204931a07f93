import ArgumentParser
import Foundation
import LossBench
import LossPipeline
import LossSynthesis
import SSDLoss

/// `lossd bench pipeline`: the sidecar against a bare PUSH → PULL of the same messages.
struct PipelineBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Time batches through a real sidecar against a bare libzmq PUSH → PULL of the same messages.",
        discussion: """
            Both runs send the same synthetic message --messages times from a PUSH socket in \
            this process, over tcp loopback or ipc. The floor's PULL only receives; the sidecar \
            decodes, computes and sends one record per batch to a sink. SPEC target: the sidecar \
            at ≥ 0.9 × the bare batches/s; compact float16 at ≥ 3 × the batches/s of keras \
            float32 with ≤ 0.25 × the bytes per box.

            --against-tunables instead times real `lossd sidecar` processes, started by this \
            one: by default, and with the GLIBC_TUNABLES setting the Docker image used to carry \
            (target: the default at ≥ 0.9 × its batches/s), plus any --variant given, side by side.

            Examples:
              lossd bench pipeline
              lossd bench pipeline --transport ipc --workers 1 --workers 2
              lossd bench pipeline --layout compact --dtype float16 --json
              lossd bench pipeline --against-tunables --transport tcp --transport ipc
              lossd bench pipeline --against-tunables --variant glibc=LOSSD_MALLOC=system
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

    @Option(help: "Transports to measure (repeatable): tcp, ipc.")
    var transport: [PipelineBenchmark.Transport] = [.tcp]

    @Option(help: "Sidecar worker counts to measure (repeatable).")
    var workers: [Int] = [2]

    @Option(help: "Messages per timed run.")
    var messages: Int = 40

    @Option(name: .customLong("repeat"), help: "Timed runs of each of floor and sidecar.")
    var repetitions: Int = 3

    @Flag(help: "Time `lossd sidecar` processes: by default against GLIBC_TUNABLES (and each --variant).")
    var againstTunables = false

    @Option(
        help: ArgumentHelp(
            "With --against-tunables, one more sidecar environment (repeatable).",
            valueName: "label=NAME=VALUE[,NAME=VALUE]"))
    var variant: [String] = []

    @Flag(help: "One JSON object per configuration instead of a table.")
    var json = false

    func validate() throws {
        guard messages >= 1, repetitions >= 1 else {
            throw ValidationError("--messages and --repeat must be at least 1.")
        }
        guard workers.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--workers must be at least 1.") }
        guard variant.isEmpty || againstTunables else {
            throw ValidationError("--variant goes with --against-tunables.")
        }
        for text in variant where SidecarProcessBench.Variant.parse(text) == nil {
            throw ValidationError("--variant takes label=NAME=VALUE[,NAME=VALUE…] (NAME= removes NAME), not '\(text)'.")
        }
    }

    func run() async throws {
        if againstTunables {
            let variants =
                [SidecarProcessBench.Variant.standard, .tunables]
                + variant.compactMap(SidecarProcessBench.Variant.parse)
            var results: [SidecarProcessBench.Result] = []
            for transport in transport {
                for workerCount in workers {
                    let spec = SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype, scores: scores)
                    let result = try await SidecarProcessBench(
                        spec: spec, transport: transport, messages: messages, workers: workerCount,
                        repetitions: repetitions,
                        variants: variants
                    ).run()
                    if json { print(BenchReport.json(result)) }
                    results.append(result)
                }
            }
            if !json { print(BenchReport.table(results)) }
            return
        }
        var results: [PipelineBenchmark.Result] = []
        for transport in transport {
            for workerCount in workers {
                let spec = SyntheticBatchSpec(shape: shape, layout: layout, dtype: dtype, scores: scores)
                let benchmark = PipelineBenchmark(
                    spec: spec, transport: transport, messages: messages, workers: workerCount, repetitions: repetitions
                )
                let result = try await benchmark.run()
                guard result.records == messages else {
                    throw ValidationError(
                        """
                        the sidecar produced \(result.records) loss records for \(messages) batches; the run is not \
                        valid.
                        """
                    )
                }
                if json { print(BenchReport.json(result)) }
                results.append(result)
            }
        }
        if !json { print(BenchReport.table(results)) }
    }
}

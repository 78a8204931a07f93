import ArgumentParser
import Foundation
import LossBench
import LossPipeline
import LossSynthesis
import SSDLoss

/// `lossd bench` (`lossd bench all`): every SPEC §7 target, measured in one run, with a verdict.
struct SummaryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Measure every performance target of the SPEC in one run and compare each with its target.",
        discussion: """
            Runs the kernel (every layout, scalar type, score kind and mining mode against the \
            memory floor of its bytes; with the per-batch diagnostics against without; ns per box \
            from 10^4 to 10^7 boxes), the pipeline (the sidecar against a bare \
            PUSH → PULL over tcp loopback; compact float16 against keras float32), the memory of \
            a real sidecar process under a flood, the aggregator's records/s, and replaying and \
            recording SSD300 batches (lossd bench replay, lossd bench record: 1.2 GB and 2.2 GB \
            of files in the temporary folder, removed afterwards). Each row gives the measured \
            figure, the target and whether it is met; the pipeline also runs real sidecar \
            processes, by default against the old GLIBC_TUNABLES setting. Takes a few minutes; \
            --quick skips the 10^7-box scaling point (about 5 GB).
            """
    )

    @Option(name: .customLong("repeat"), help: "Repetitions of each measurement (median with min–max).")
    var repetitions: Int = 15

    @Flag(help: "Skip the 10^7-box scaling point.")
    var quick = false

    @Flag(help: "One JSON object per line: each measurement, then each target's verdict.")
    var json = false

    func run() async throws {
        var rows: [BenchReport.TargetRow] = []
        func emit(_ line: String) { if json { print(line) } }
        let voc = BatchShape(batch: 32, boxes: 8732, classes: 21)

        // Kernel against the floor: every combination, of which the SPEC names two.
        let sweep = KernelSweep(shape: voc, repetitions: repetitions)
        let matrix = try KernelMatrix(sweep).run { emit(BenchReport.json($0)) }
        let probabilities = matrix[0].result, logits = matrix[2].result
        rows.append(
            .init(
                what: "kernel, keras float32, B=32 N=8732 C=21 (\(probabilities.path))", measured: probabilities.ratio,
                unit: "× floor", target: "≤ 1.25", met: probabilities.ratio <= 1.25))
        rows.append(
            .init(
                what: "kernel, logits (\(logits.path))", measured: logits.ratio, unit: "× floor", target: "≤ 2.5",
                met: logits.ratio <= 2.5))
        for row in matrix {
            let r = row.result
            rows.append(
                .init(
                    what: """
                        kernel matrix: \(r.spec.layout) \(r.spec.dtype) \(r.parameters.scores), \
                        \(r.parameters.mining) mining (\(r.path))
                        """,
                    measured: r.ratio, unit: "× floor", target: String(format: "≤ %.2f", row.target), met: row.met))
        }

        // The per-batch diagnostics of every loss record: the kernel off and on, alternating.
        let costs = try DiagnosticsCost(sweep).run { emit(BenchReport.json($0)) }
        for row in costs {
            let r = row.on
            rows.append(
                .init(
                    what: """
                        kernel with diagnostics vs without: \(r.spec.layout) \(r.spec.dtype) \
                        \(r.parameters.scores) (\(r.path))
                        """,
                    measured: row.ratio, unit: "× without", target: String(format: "≤ %.2f", DiagnosticsCost.target),
                    met: row.met))
        }

        // Scaling: ns per box from 10^4 to 10^7 boxes per batch. Every size reads its batch
        // from memory (a cold cache): a 10^4-box batch would otherwise stay in cache between
        // repetitions and compare the caches, not the work. The sizes are timed round-robin,
        // so that the VM's slow and fast moments fall on all of them alike, and small batches
        // (a fraction of a millisecond, where one preempted repetition moves the median) get
        // more repetitions, up to 200.
        let sizes = quick ? [1, 10, 100] : [1, 10, 100, 1000]
        let scaling = try KernelBenchmark.runInterleaved(
            sizes.map { images in
                KernelBenchmark(
                    spec: SyntheticBatchSpec(shape: BatchShape(batch: images, boxes: 10_000, classes: 21)),
                    parameters: LossParameters(), repetitions: max(max(3, repetitions / 2), min(200, 2_000 / images)),
                    coldCache: true)
            })
        for result in scaling { emit(BenchReport.json(result)) }
        let perBox = scaling.map(\.nanosecondsPerBox)
        let mean = perBox.reduce(0, +) / Double(perBox.count)
        let spread = perBox.map { abs($0 / mean - 1) }.max() ?? 0
        rows.append(
            .init(
                what:
                    """
                    kernel scaling, cold cache, 10^4…10^\(perBox.count + 3) boxes \
                    (\(perBox.map { String(format: "%.1f", $0) }.joined(separator: "/")) ns/box)
                    """,
                measured: spread * 100, unit: "% from mean", target: "≤ ±20", met: spread <= 0.2))

        // Pipeline over tcp loopback.
        let keras = try await PipelineBenchmark(
            spec: SyntheticBatchSpec(shape: voc), transport: .tcp, messages: 30, workers: Terminal.cores, repetitions: 3
        ).run()
        emit(BenchReport.json(keras))
        rows.append(
            .init(
                what: "sidecar over tcp, keras float32", measured: keras.ratio, unit: "× bare PUSH→PULL",
                target: "≥ 0.9", met: keras.ratio >= 0.9))
        let compact = try await PipelineBenchmark(
            spec: SyntheticBatchSpec(shape: voc, layout: .compact, dtype: .float16), transport: .tcp, messages: 60,
            workers: Terminal.cores, repetitions: 3
        ).run()
        emit(BenchReport.json(compact))
        let bytesRatio = compact.bytesPerBox / keras.bytesPerBox
        let speedup = compact.batchesPerSecond / keras.batchesPerSecond
        rows.append(
            .init(
                what: "compact float16 bytes per box vs keras float32", measured: bytesRatio, unit: "×",
                target: "≤ 0.25", met: bytesRatio <= 0.25))
        rows.append(
            .init(
                what: "compact float16 batches/s vs keras float32, through the sidecar", measured: speedup, unit: "×",
                target: "≥ 3", met: speedup >= 3))

        // A default sidecar process against one started with the GLIBC_TUNABLES setting the
        // Docker image used to need: large messages must be as fast without it.
        var processes: [SidecarProcessBench.Result] = []
        for transport in [PipelineBenchmark.Transport.tcp, .ipc] {
            for (spec, messages) in [
                (SyntheticBatchSpec(shape: voc), 20),
                (SyntheticBatchSpec(shape: voc, layout: .compact, dtype: .float16), 60),
            ] {
                let result = try await SidecarProcessBench(
                    spec: spec, transport: transport, messages: messages, workers: Terminal.cores, repetitions: 3,
                    variants: [.standard, .tunables]
                ).run()
                emit(BenchReport.json(result))
                processes.append(result)
                let ratio = result.defaultRelative(to: 1)
                rows.append(
                    .init(
                        what: """
                            default sidecar vs GLIBC_TUNABLES, \(transport), \
                            \(result.messageBytes / 1_000_000) MB messages
                            """,
                        measured: ratio, unit: "× batches/s", target: "≥ 0.9", met: ratio >= 0.9))
            }
        }

        // Memory of a real sidecar under a flood.
        let queue = 2, workers = Terminal.cores
        let memory = try await MemoryBench(
            spec: SyntheticBatchSpec(shape: voc), messages: 30, workers: workers, queue: queue
        ).run()
        emit(
            #"{"part":"memory","peak_rss_bytes":\#(memory.peakBytes),"bound_bytes":\#(memory.bound),"#
                + #""message_bytes":\#(memory.messageBytes),"queue":\#(queue),"workers":\#(workers),"#
                + #""received":\#(memory.received)}"#
        )
        rows.append(
            .init(
                what:
                    """
                    sidecar peak RSS under a flood (queue \(queue), workers \(workers), \
                    \(memory.messageBytes >> 20) MiB messages)
                    """,
                measured: Double(memory.peakBytes) / 1_048_576, unit: "MiB", target: "≤ \(memory.bound >> 20)",
                met: memory.peakBytes <= memory.bound && memory.received == 30))

        // Aggregator.
        let aggregate = try AggregatorBenchmark(records: 50_000, batch: 32, repetitions: max(3, repetitions / 2)).run()
        emit(BenchReport.json(aggregate))
        rows.append(
            .init(
                what: "aggregator, one thread", measured: aggregate.recordsPerSecond, unit: "records/s",
                target: "≥ 100000", met: aggregate.recordsPerSecond >= 100_000))

        // Replay and recording.
        let recordings = try await recordingTargets(emit: emit)
        rows += recordings.rows

        if json {
            for row in rows { print(BenchReport.json(row)) }
        } else {
            print(BenchReport.table(matrix))
            print()
            print(BenchReport.table([keras, compact]))
            print()
            print(BenchReport.table(processes))
            print()
            print(BenchReport.table(aggregate))
            print()
            for table in recordings.tables {
                print(table)
                print()
            }
            print(BenchReport.table(rows))
        }
    }
}

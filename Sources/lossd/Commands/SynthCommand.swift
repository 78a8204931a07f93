import ArgumentParser
import Foundation
import LossPipeline
import LossSynthesis
import LossWire
import SSDLoss

/// `lossd synth`: writes a recording of realistic synthetic SSD batches.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a .lossrec recording of synthetic SSD batches whose loss falls with the step.",
        discussion: """
            Each box is ignored, background or matched to an object with the given fractions; \
            the predicted scores and offsets improve with the step, so replaying the recording \
            shows a falling loss. The same seed gives the same bytes. Headers carry run, split, \
            source, step, seq (0, 1, 2, …) and, with --epoch-size, epoch; receive times are \
            spaced --interval-ms apart so that `lossd replay --pace realtime` has a pace to keep.

            Examples:
              lossd synth -o batches.lossrec
              lossd synth -o coco.lossrec --batch 32 --boxes 8732 --classes 81 --count 10
              lossd synth -o small.lossrec --layout compact --dtype float16 --scores logits
            """
    )

    @Option(
        name: .shortAndLong, help: "The recording to write (created or truncated).",
        completion: .file(extensions: ["lossrec"]))
    var output: String

    @Option(help: "Number of batches.")
    var count: Int = 20

    @Option(help: "Images per batch (B).")
    var batch: Int = 8

    @Option(help: "Boxes per image (N); SSD300 has 8732.")
    var boxes: Int = 8732

    @Option(help: "Classes, background included (C); VOC has 21, COCO 81.")
    var classes: Int = 21

    @Option(help: "Tensor layout: keras or compact.")
    var layout: Layout = .keras

    @Option(help: "Scalar type: float32, float16, bfloat16 or float64.")
    var dtype: ScalarType = .float32

    @Option(help: "Class scores as probabilities or logits.")
    var scores: ScoreKind = .probabilities

    @Option(help: "Fraction of boxes matched to an object.")
    var positives: Double = 0.005

    @Option(help: "Fraction of boxes marked ignored.")
    var ignored: Double = 0.01

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "The step of the first batch.")
    var firstStep: Int = 0

    @Option(help: "Steps between successive batches.")
    var stepStride: Int = 10

    @Option(help: "Batches per epoch; without it, headers carry no epoch.")
    var epochSize: Int?

    @Option(help: "Milliseconds between successive receive times.")
    var intervalMs: Int = 100

    @Option(name: .customLong("run"), help: "The run label.")
    var runLabel: String = "synthetic"

    @Option(help: "The split label.")
    var split: String = "train"

    @Option(help: "The source label (one trainer process).")
    var source: String = ""

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1.") }
        guard batch >= 1, boxes >= 1 else { throw ValidationError("--batch and --boxes must be at least 1.") }
        guard classes >= 2 else {
            throw ValidationError("--classes must be at least 2 (background and one object class).")
        }
        guard (0...1).contains(positives), (0...1).contains(ignored), positives + ignored <= 1 else {
            throw ValidationError("--positives and --ignored are fractions in 0…1 whose sum is at most 1.")
        }
        guard epochSize.map({ $0 >= 1 }) ?? true else { throw ValidationError("--epoch-size must be at least 1.") }
        guard intervalMs >= 0 else { throw ValidationError("--interval-ms must be 0 or more.") }
        for (name, value) in [("--run", runLabel), ("--split", split), ("--source", source)]
        where value.utf8.count > WireLimits().maxLabelBytes {
            throw ValidationError("\(name) is longer than \(WireLimits().maxLabelBytes) bytes.")
        }
    }

    func run() throws {
        let spec = SyntheticBatchSpec(
            shape: BatchShape(batch: batch, boxes: boxes, classes: classes),
            layout: layout, dtype: dtype, scores: scores,
            positiveFraction: positives, ignoredFraction: ignored, seed: seed,
            run: runLabel, split: split, source: source)
        let generator = SyntheticBatchGenerator(spec: spec)
        let writer: RecordingWriter
        do {
            writer = try RecordingWriter(path: output)
        } catch {
            throw ValidationError("\(error)")
        }
        let start = UInt64(Date().timeIntervalSince1970 * 1e9)
        for index in 0..<count {
            let step = firstStep + index * stepStride
            let message = generator.message(
                step: step, epoch: epochSize.map { index / $0 }, seq: index,
                receiveTimeNs: start + UInt64(index) * UInt64(intervalMs) * 1_000_000)
            try writer.append(message)
        }
        try writer.close()
        let megabytes = Double(count * (spec.tensorBytes)) / 1_048_576
        Terminal.warn("wrote \(count) batches (\(String(format: "%.1f", megabytes)) MB of tensors) to \(output)")
    }
}

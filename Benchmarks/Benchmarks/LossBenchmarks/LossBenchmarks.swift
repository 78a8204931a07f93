import Benchmark
import LossSynthesis
import LossWire
import SSDLoss

/// One keras-layout float32 batch from lossd's synthetic generator (1 % positives, 1 % ignored
/// boxes), with its predictions both as probabilities and as logits (the same draws).
private struct Batch {
    let shape: BatchShape
    /// The header and tensors with probabilities.
    let frames: [[UInt8]]
    /// The same batch with logits.
    let logitFrames: [[UInt8]]

    init(batch: Int, boxes: Int, classes: Int, seed: UInt64 = 1) {
        shape = BatchShape(batch: batch, boxes: boxes, classes: classes)
        var spec = SyntheticBatchSpec(
            shape: shape, positiveFraction: 0.01, ignoredFraction: 0.01, seed: seed, run: "bench")
        frames = SyntheticBatchGenerator(spec: spec).frames(step: 100, seq: 0)
        spec.scores = .logits
        logitFrames = SyntheticBatchGenerator(spec: spec).frames(step: 100, seq: 0)
    }

    var yTrue: [UInt8] { frames[1] }
    var yPred: [UInt8] { frames[2] }
    var yPredLogits: [UInt8] { logitFrames[2] }

    func message() -> WireMessage { WireMessage(copying: frames) }
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]

    // Decoding and validating a header and its frames: per message, before any loss is computed.
    let small = Batch(batch: 2, boxes: 64, classes: 5)
    Benchmark("Decoder: header + frames of a keras batch", configuration: .init(metrics: metrics, scalingFactor: .kilo))
    { benchmark in
        let message = small.message()
        for _ in benchmark.scaledIterations {
            blackHole(try BatchDecoder.decode(message, defaults: LossParameters()))
        }
    }

    // The whole kernel on an SSD300 VOC-sized batch, batch and image mining.
    let voc = Batch(batch: 8, boxes: 8732, classes: 21)
    for mining in MiningMode.allCases {
        Benchmark("Kernel: keras float32 B=8 N=8732 C=21, \(mining) mining", configuration: .init(metrics: metrics)) {
            benchmark in
            let kernel = MultiBoxLoss(parameters: LossParameters(mining: mining))
            let workspace = LossWorkspace()
            voc.yTrue.withUnsafeBytes { yTrue in
                voc.yPred.withUnsafeBytes { yPred in
                    for _ in benchmark.scaledIterations {
                        blackHole(
                            try? kernel.compute(
                                .keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32,
                                workspace: workspace))
                    }
                }
            }
        }
    }

    // Logits: the estimating pass, then the exact log-sum-exp for the negatives mining can reach.
    // When mining keeps a large share of the negatives (here through n_neg_min, from 40 % of the
    // boxes on) the kernel takes the single exact pass up front instead: no case may be slower
    // than that pass was before the estimates existed (docs/PERFORMANCE.md, "The refinement's
    // worst case"). The last case runs the baseline code.
    for (name, parameters, path) in [
        ("batch mining", LossParameters(scores: .logits), KernelPath.active),
        (
            "k = 35 % of the boxes (estimates)",
            LossParameters(nNegMin: voc.shape.boxCount * 35 / 100, scores: .logits), .active
        ),
        (
            "k = half of the negatives (exact pass)", LossParameters(nNegMin: voc.shape.boxCount / 2, scores: .logits),
            .active
        ),
        ("k = every negative (exact pass)", LossParameters(nNegMin: voc.shape.boxCount, scores: .logits), .active),
        ("batch mining, baseline code", LossParameters(scores: .logits), .baseline),
    ] {
        Benchmark("Kernel: keras float32 logits B=8 N=8732 C=21, \(name)", configuration: .init(metrics: metrics)) {
            benchmark in
            let kernel = MultiBoxLoss(parameters: parameters, path: path)
            let workspace = LossWorkspace()
            voc.yTrue.withUnsafeBytes { yTrue in
                voc.yPredLogits.withUnsafeBytes { yPred in
                    for _ in benchmark.scaledIterations {
                        blackHole(
                            try? kernel.compute(
                                .keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32,
                                workspace: workspace))
                    }
                }
            }
        }
    }

    // Mining-heavy: k forced to half the negatives by n_neg_min, so selection dominates.
    Benchmark(
        "Miner: k = half of the negatives (via n_neg_min), B=8 N=8732 C=21", configuration: .init(metrics: metrics)
    ) { benchmark in
        let kernel = MultiBoxLoss(parameters: LossParameters(nNegMin: voc.shape.boxCount / 2))
        let workspace = LossWorkspace()
        voc.yTrue.withUnsafeBytes { yTrue in
            voc.yPred.withUnsafeBytes { yPred in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        try? kernel.compute(
                            .keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32, workspace: workspace)
                    )
                }
            }
        }
    }
}

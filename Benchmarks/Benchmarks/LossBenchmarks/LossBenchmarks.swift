import Benchmark
import Foundation
import LossWire
import SSDLoss

/// One keras-layout batch built in memory: one-hot targets with 1 % positives and 1 % ignored
/// boxes, softmax-like predictions, little-endian float32.
private struct Batch {
    let shape: BatchShape
    let header: [UInt8]
    let yTrue: [UInt8]
    let yPred: [UInt8]
    /// The same predictions as logits: the log of each class probability.
    let yPredLogits: [UInt8]

    init(batch: Int, boxes: Int, classes: Int, seed: UInt64 = 1) {
        shape = BatchShape(batch: batch, boxes: boxes, classes: classes)
        header = Array(#"{"v":1,"batch":\#(batch),"boxes":\#(boxes),"classes":\#(classes),"run":"bench","seq":0}"#.utf8)
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1.0p-53
        }
        let width = classes + 12
        var truth = [Float](repeating: 0, count: shape.boxCount * width)
        var prediction = [Float](repeating: 0, count: shape.boxCount * width)
        for box in 0..<shape.boxCount {
            let draw = next()
            let label = draw < 0.01 ? -1 : draw < 0.02 ? 1 + Int(next() * Double(classes - 1)) : 0
            if label >= 0 { truth[box * width + label] = 1 }
            var total: Float = 0
            for k in 0..<classes {
                let value = Float(0.05 + next()) + (k == max(label, 0) ? 2 : 0)
                prediction[box * width + k] = value
                total += value
            }
            for k in 0..<classes { prediction[box * width + k] /= total }
            for j in 0..<4 {
                truth[box * width + classes + j] = Float(next() - 0.5)
                prediction[box * width + classes + j] = Float(next() - 0.5)
            }
        }
        yTrue = truth.withUnsafeBytes { Array($0) }
        yPred = prediction.withUnsafeBytes { Array($0) }
        var logits = prediction
        for box in 0..<shape.boxCount {
            for k in 0..<classes { logits[box * width + k] = Foundation.log(prediction[box * width + k]) }
        }
        yPredLogits = logits.withUnsafeBytes { Array($0) }
    }

    func message() -> WireMessage { WireMessage(copying: [header, yTrue, yPred]) }
}

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]

    // Decoding and validating a header and its frames: per message, before any loss is computed.
    let small = Batch(batch: 2, boxes: 64, classes: 5)
    Benchmark("Decoder: header + frames of a keras batch", configuration: .init(metrics: metrics, scalingFactor: .kilo)) { benchmark in
        let message = small.message()
        for _ in benchmark.scaledIterations {
            blackHole(try BatchDecoder.decode(message, defaults: LossParameters()))
        }
    }

    // The whole kernel on an SSD300 VOC-sized batch, batch and image mining.
    let voc = Batch(batch: 8, boxes: 8732, classes: 21)
    for mining in MiningMode.allCases {
        Benchmark("Kernel: keras float32 B=8 N=8732 C=21, \(mining) mining", configuration: .init(metrics: metrics)) { benchmark in
            let kernel = MultiBoxLoss(parameters: LossParameters(mining: mining))
            let workspace = LossWorkspace()
            voc.yTrue.withUnsafeBytes { yTrue in
                voc.yPred.withUnsafeBytes { yPred in
                    for _ in benchmark.scaledIterations {
                        blackHole(try? kernel.compute(.keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32, workspace: workspace))
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
        ("k = 35 % of the boxes (estimates)", LossParameters(nNegMin: voc.shape.boxCount * 35 / 100, scores: .logits), .active),
        ("k = half of the negatives (exact pass)", LossParameters(nNegMin: voc.shape.boxCount / 2, scores: .logits), .active),
        ("k = every negative (exact pass)", LossParameters(nNegMin: voc.shape.boxCount, scores: .logits), .active),
        ("batch mining, baseline code", LossParameters(scores: .logits), .baseline),
    ] {
        Benchmark("Kernel: keras float32 logits B=8 N=8732 C=21, \(name)", configuration: .init(metrics: metrics)) { benchmark in
            let kernel = MultiBoxLoss(parameters: parameters, path: path)
            let workspace = LossWorkspace()
            voc.yTrue.withUnsafeBytes { yTrue in
                voc.yPredLogits.withUnsafeBytes { yPred in
                    for _ in benchmark.scaledIterations {
                        blackHole(try? kernel.compute(.keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32, workspace: workspace))
                    }
                }
            }
        }
    }

    // Mining-heavy: k forced to half the negatives by n_neg_min, so selection dominates.
    Benchmark("Miner: k = half of the negatives (via n_neg_min), B=8 N=8732 C=21", configuration: .init(metrics: metrics)) { benchmark in
        let kernel = MultiBoxLoss(parameters: LossParameters(nNegMin: voc.shape.boxCount / 2))
        let workspace = LossWorkspace()
        voc.yTrue.withUnsafeBytes { yTrue in
            voc.yPred.withUnsafeBytes { yPred in
                for _ in benchmark.scaledIterations {
                    blackHole(try? kernel.compute(.keras(yTrue: yTrue, yPred: yPred), shape: voc.shape, dtype: .float32, workspace: workspace))
                }
            }
        }
    }
}

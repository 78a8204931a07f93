import Foundation
import SSDLoss

/// One golden case of a loss profile in `Tests/Fixtures/profiles/` (written by
/// `scripts/make_profile_golden.py` from the upstream frameworks or their transcriptions):
/// `NAME.json` (shape, dtype, profile, expected values) and `NAME.bin` (a compact batch's frames).
struct ProfileGoldenCase: Decodable, CustomStringConvertible {
    struct Expected: Decodable {
        var loss: Double
        var classification: Double
        var localization: Double
        var perItem: [Double]?
        var positives: Double
        var negatives: Int

        enum CodingKeys: String, CodingKey {
            case loss, classification, localization, positives, negatives
            case perItem = "per_item"
        }
    }

    var name: String
    var profile: LossProfile
    var dtype: ScalarType
    var batch: Int
    var boxes: Int
    var classes: Int
    var expected: Expected

    var description: String { name }
    var shape: BatchShape { BatchShape(batch: batch, boxes: boxes, classes: classes) }

    /// `Tests/Fixtures/profiles`, found from this file's path (no package resources needed).
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/profiles")

    static let names = [
        "mmdet-cap", "mmdet-empty-image", "mmdet-float16", "mmdet-huge", "mmdet-ignored", "mmdet-random",
        "ssd-pytorch-clamp", "ssd-pytorch-crowded", "ssd-pytorch-float16", "ssd-pytorch-random",
        "torchvision-crowded", "torchvision-float16", "torchvision-huge", "torchvision-no-positives",
        "torchvision-random", "torchvision-ties", "torchvision-whole-image",
    ]

    static func load(_ name: String) throws -> ProfileGoldenCase {
        try JSONDecoder().decode(
            ProfileGoldenCase.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
    }

    /// The four compact frames: labels, gt_offsets, scores, pred_offsets.
    func frames() throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("\(name).bin")))
        let width = dtype.byteWidth
        let boxCount = batch * boxes
        let sizes = [boxCount * 4, boxCount * 4 * width, boxCount * classes * width, boxCount * 4 * width]
        var frames: [[UInt8]] = []
        var offset = 0
        for size in sizes {
            frames.append(Array(bytes[offset..<(offset + size)]))
            offset += size
        }
        return frames
    }

    /// The same batch in the keras layout: one-hot `y_true` (all zero for an ignored box), the
    /// scores and offsets in `y_pred`, 8 zero entries per box.
    func kerasTensors() throws -> (yTrue: [UInt8], yPred: [UInt8]) {
        let f = try frames()
        let labels = f[0].withUnsafeBytes { raw in
            (0..<(batch * boxes)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) }
        }
        let gt = decode(f[1], as: dtype)
        let scores = decode(f[2], as: dtype)
        let pred = decode(f[3], as: dtype)
        let width = classes + 12
        var yTrue = [Double](repeating: 0, count: batch * boxes * width)
        var yPred = [Double](repeating: 0, count: batch * boxes * width)
        for box in 0..<(batch * boxes) {
            let row = box * width
            if labels[box] >= 0 { yTrue[row + Int(labels[box])] = 1 }
            for k in 0..<classes { yPred[row + k] = scores[box * classes + k] }
            for j in 0..<4 {
                yTrue[row + classes + j] = gt[box * 4 + j]
                yPred[row + classes + j] = pred[box * 4 + j]
            }
        }
        return (encode(yTrue, as: dtype), encode(yPred, as: dtype))
    }
}

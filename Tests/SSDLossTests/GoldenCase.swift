import Foundation
import SSDLoss

/// One of the golden cases in `golden/`: `NAME.json` (shape, parameters, expected values) and
/// `NAME.bin` (`y_true` then `y_pred`, in the case's dtype).
struct GoldenCase: Decodable, CustomStringConvertible {
    struct Expected: Decodable {
        var loss: Double
        var perItem: [Double]
        var classLoss: [Double]
        var locLoss: [Double]
        var positives: Double
        var negativesAvailable: Int
        var negatives: Int

        enum CodingKeys: String, CodingKey {
            case loss
            case perItem = "per_item"
            case classLoss = "class_loss"
            case locLoss = "loc_loss"
            case positives = "n_positive"
            case negativesAvailable = "n_neg_losses"
            case negatives = "n_negative_keep"
        }
    }

    var name: String
    var dtype: ScalarType
    var batch: Int
    var boxes: Int
    var classes: Int
    var params: LossParameters
    var expected: Expected

    var description: String { name }

    var shape: BatchShape { BatchShape(batch: batch, boxes: boxes, classes: classes) }

    static let directory: URL? = Bundle.module.url(forResource: "golden", withExtension: nil)

    static let names = [
        "all-ignored", "basic", "clip", "float16", "image-mining", "k-capped", "logits-extreme", "logits",
        "no-positives-min", "no-positives", "ratio-alpha-min", "smooth-l1-edges", "soft-labels",
        "ssd7-float64", "ties", "voc-sized",
    ]

    static func load(_ name: String) throws -> GoldenCase {
        let url = try requireURL(directory).appendingPathComponent("\(name).json")
        return try JSONDecoder().decode(GoldenCase.self, from: Data(contentsOf: url))
    }

    /// The raw bytes of `y_true` and `y_pred`.
    func tensors() throws -> (yTrue: [UInt8], yPred: [UInt8]) {
        let url = try requireURL(Self.directory).appendingPathComponent("\(name).bin")
        let bytes = [UInt8](try Data(contentsOf: url))
        let half = bytes.count / 2
        return (Array(bytes[..<half]), Array(bytes[half...]))
    }

    /// The case as a batch of doubles (the values its dtype carries).
    func batchValues() throws -> KerasBatch {
        let (t, p) = try tensors()
        return KerasBatch(shape: shape, yTrue: decode(t, as: dtype), yPred: decode(p, as: dtype))
    }
}

struct MissingGoldenDirectory: Error {}

func requireURL(_ url: URL?) throws -> URL {
    guard let url else { throw MissingGoldenDirectory() }
    return url
}

import Foundation
import LossWire
import SSDLoss
import Testing

/// The malformed-input corpus (Tests/Fixtures/malformed, docs/TESTING.md) fed straight to
/// ``BatchProcessor``: every case gets its error code, and the same processor and workspace still
/// compute a golden batch exactly after each one.
@Suite("Malformed-input corpus through BatchProcessor")
struct MalformedCorpusTests {
    static let cases: [CorpusCase] = (try? MalformedCorpus.load()) ?? []

    @Test("the corpus is there and covers every error code")
    func coverage() throws {
        let cases = try MalformedCorpus.load()
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.code)) == Set(ErrorCode.allCases))
        #expect(Set(cases.map(\.name)).count == cases.count)
    }

    @Test("each case gets exactly its error code, with a sentence and the labels it could read", arguments: cases)
    func errorCode(_ corpusCase: CorpusCase) {
        let processor = Self.processor(for: corpusCase)
        let record = processor.process(WireMessage(copying: corpusCase.frames), workspace: LossWorkspace())
        guard case .error(let error) = record else {
            Issue.record("\(corpusCase.name): expected \(corpusCase.code.rawValue), got a loss record")
            return
        }
        #expect(error.code == corpusCase.code, "\(corpusCase.name): \(error.message)")
        #expect(!error.message.isEmpty)
        #expect(error.labels.seq == corpusCase.seq, "\(corpusCase.name): seq \(String(describing: error.labels.seq))")
        if corpusCase.seq != nil, corpusCase.code != .badLabels {  // a bad label is not echoed
            #expect(error.labels.run == "corpus" && error.labels.source == "generator")
        }
        if corpusCase.code == .nonfinite {
            #expect(error.details?["nonfinite"] != nil, "\(corpusCase.name): no nonfinite counts")
        }
    }

    @Test("a golden batch after every malformed case, on one workspace, is computed exactly")
    func goldenAfterEachCase() throws {
        let golden = try GoldenBatch.load("basic")
        let workspace = LossWorkspace()
        let processor = BatchProcessor(limits: WireLimits(maxMessageBytes: 256 << 10))
        for corpusCase in try MalformedCorpus.load() {
            _ = Self.processor(for: corpusCase).process(WireMessage(copying: corpusCase.frames), workspace: workspace)
            let record = processor.process(golden.message, workspace: workspace)
            guard case .loss(let loss) = record else {
                Issue.record("after \(corpusCase.name): the golden batch got \(record)")
                continue
            }
            #expect(golden.matches(loss), "after \(corpusCase.name): \(loss.loss) vs \(golden.loss)")
        }
    }

    private static func processor(for corpusCase: CorpusCase) -> BatchProcessor {
        var limits = WireLimits()
        if let limit = corpusCase.maxMessageBytes { limits.maxMessageBytes = limit }
        return BatchProcessor(limits: limits, sidecarID: "corpus-test")
    }
}

/// A golden case of Tests/SSDLossTests/golden as a keras batch message and its expected values.
struct GoldenBatch {
    let message: WireMessage
    let loss: Double
    let perItem: [Double]
    let negatives: Int
    let negativesAvailable: Int

    private struct Case: Decodable {
        struct Params: Decodable {
            let neg_pos_ratio: Int
            let n_neg_min: Int
            let alpha: Double
            let mining: String
            let scores: String
        }
        struct Expected: Decodable {
            let loss: Double
            let per_item: [Double]
            let n_negative_keep: Int
            let n_neg_losses: Int
        }
        let dtype: String
        let batch: Int
        let boxes: Int
        let classes: Int
        let params: Params
        let expected: Expected
    }

    static func load(_ name: String) throws -> GoldenBatch {
        let directory = MalformedCorpus.goldenDirectory
        let json = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        let golden = try JSONDecoder().decode(Case.self, from: json)
        let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent("\(name).bin")))
        let half = bytes.count / 2
        let p = golden.params
        let header = """
            {"v":1,"batch":\(golden.batch),"boxes":\(golden.boxes),"classes":\(golden.classes),\
            "dtype":"\(golden.dtype)","scores":"\(p.scores)","loss":{"neg_pos_ratio":\(p.neg_pos_ratio),\
            "n_neg_min":\(p.n_neg_min),"alpha":\(p.alpha),"mining":"\(p.mining)"}}
            """
        return GoldenBatch(
            message: WireMessage(copying: [Array(header.utf8), Array(bytes[..<half]), Array(bytes[half...])]),
            loss: golden.expected.loss, perItem: golden.expected.per_item,
            negatives: golden.expected.n_negative_keep, negativesAvailable: golden.expected.n_neg_losses)
    }

    /// Within 1e-4 relative (1e-4 absolute near zero), counts exact.
    func matches(_ record: LossRecord) -> Bool {
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= max(1e-4 * abs(b), 1e-4) }
        return close(record.loss, loss) && record.perItem.count == perItem.count
            && zip(record.perItem, perItem).allSatisfy(close) && record.negatives == negatives
            && record.negativesAvailable == negativesAvailable
    }
}

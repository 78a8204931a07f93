import SSDLoss
import Testing

@testable import LossWire

@Suite("Result records")
struct ResultRecordTests {
    static let lossRecord = LossRecord(
        run: "r", split: "train", source: "rank0", epoch: 1, seq: 3,
        shape: BatchShape(batch: 2, boxes: 4, classes: 3),
        loss: 0.75, classification: 0.5, localization: 0.25, perItem: [1.0, 0.5],
        positives: 2.5, negatives: 6, negativesAvailable: 8, parameters: LossParameters(),
        computeMicros: 120, sidecar: "host:1")

    private func text(_ record: ResultRecord) -> String {
        String(decoding: record.jsonLine(), as: UTF8.self)
    }

    @Test func writesTheExactLossLine() {
        #expect(
            text(.loss(Self.lossRecord))
                == #"{"v":1,"kind":"loss","run":"r","split":"train","source":"rank0","epoch":1,"seq":3,"#
                + #""batch":2,"boxes":4,"classes":3,"loss":0.75,"classification":0.5,"localization":0.25,"#
                + #""per_item":[1.0,0.5],"positives":2.5,"negatives":6,"negatives_available":8,"profile":"keras","#
                + #""params":{"neg_pos_ratio":3,"n_neg_min":0,"alpha":1.0,"mining":"batch","scores":"probabilities"},"#
                + #""compute_us":120,"sidecar":"host:1"}"#)
    }

    @Test func writesTheExactErrorLine() {
        let error = WireError.nonfinite(
            counts: ["y_pred": 3, "y_true": 0], labels: BatchLabels(run: "r", split: "val", source: "", seq: 9))
        let line = text(.error(error))
        #expect(
            line
                == #"{"v":1,"kind":"error","code":"nonfinite","error":"the batch holds NaN or infinite values "#
                + #"(y_pred has 3); check the model's outputs and the ground truth for overflow before sending","#
                + #""run":"r","split":"val","source":"","seq":9,"details":{"nonfinite":{"y_pred":3,"y_true":0}}}"#)
    }

    @Test func errorRecordOmitsLabelsThatWereNotRead() {
        let record = WireError(code: .badHeader, message: "m")
        #expect(text(.error(record)) == #"{"v":1,"kind":"error","code":"bad_header","error":"m"}"#)
    }

    @Test(arguments: [
        ResultRecord.loss(lossRecord),
        .loss(
            LossRecord(
                run: "ünï \"quoted\"\n\t\\", split: "", source: "\u{1}",
                shape: BatchShape(batch: 1, boxes: 1, classes: 2),
                loss: 1e-300, classification: -0.0, localization: 123456789.125, perItem: [0.1 + 0.2],
                positives: 0, negatives: 0, negativesAvailable: 0,
                parameters: LossParameters(negPosRatio: 0, nNegMin: 5, alpha: 0.3, mining: .image, scores: .logits),
                computeMicros: 0, sidecar: "")),
        .error(WireError(code: .tooLarge, message: "big", labels: BatchLabels(run: "a", epoch: 4, step: 5))),
        .error(
            WireError(
                code: .badFrames, message: "", labels: .none,
                details: ["x": .array([.int(1), .double(2.5), .null, .bool(false)])])),
    ])
    func roundTrips(_ record: ResultRecord) throws {
        let line = record.jsonLine()
        #expect(!line.contains(0x0A))
        #expect(try ResultRecord(jsonLine: line) == record)
        #expect(try ResultRecord(jsonLine: line + [0x0A]) == record)
    }

    @Test func writesAndDecodesDiagnostics() throws {
        var record = Self.lossRecord
        record.diagnostics = BatchDiagnostics(
            imagesWithoutPositives: 1, maxPositiveShare: 0.625,
            classes: [
                .init(classIndex: 1, positives: 2, classificationSum: 0.75),
                .init(classIndex: 2, positives: 0.5, classificationSum: 0.25),
            ])
        let line = String(decoding: record.jsonLine(), as: UTF8.self)
        #expect(
            line.contains(
                #""negatives_available":8,"diagnostics":{"images_without_positives":1,"max_positive_share":0.625,"#
                    + #""classes":[{"class":1,"positives":2.0,"classification_sum":0.75},"#
                    + #"{"class":2,"positives":0.5,"classification_sum":0.25}]},"profile":"keras""#))
        #expect(try ResultRecord(jsonLine: record.jsonLine()) == .loss(record))
        // A record without diagnostics (an older sidecar) decodes with none.
        #expect(try ResultRecord(jsonLine: Self.lossRecord.jsonLine()) == .loss(Self.lossRecord))
        let broken = line.replacingOccurrences(of: #""classes":["#, with: #""classes":7,"ignored":["#)
        #expect(throws: RecordDecodingError.self) { try ResultRecord(jsonLine: Array(broken.utf8)) }
    }

    @Test func decodesKeysInAnyOrderAndIgnoresUnknownOnes() throws {
        let line = #"""
             { "sidecar": "host:1", "compute_us": 120, "future": {"nested": [1, {"x": null}]},
               "params": {"scores": "probabilities", "mining": "batch", "alpha": 1, "n_neg_min": 0, "neg_pos_ratio": 3},
               "negatives_available": 8, "negatives": 6, "positives": 2.5, "per_item": [1, 5e-1],
               "localization": 0.25, "classification": 0.5, "loss": 0.75, "classes": 3, "boxes": 4, "batch": 2,
               "seq": 3, "epoch": 1, "source": "rank0", "split": "train", "run": "r", "kind": "loss", "v": 1 }
            """#
        #expect(try ResultRecord(jsonLine: Array(line.utf8)) == .loss(Self.lossRecord))
    }

    @Test func nonFiniteNumbersAreWrittenAsNull() throws {
        var record = Self.lossRecord
        record.loss = .nan
        record.classification = .infinity
        record.perItem = [-.infinity, 1]
        let line = record.jsonLine()
        let json = try JSONValue(parsing: line)
        guard case .object(let object) = json else {
            Issue.record("not an object")
            return
        }
        #expect(object["loss"] == .null)
        #expect(object["classification"] == .null)
        #expect(object["per_item"] == .array([.null, .double(1)]))
        guard case .loss(let decoded) = try ResultRecord(jsonLine: line) else {
            Issue.record("not a loss record")
            return
        }
        #expect(decoded.loss.isNaN)
        #expect(decoded.perItem[0].isNaN)
    }

    @Test func buildsFromHeaderAndResult() {
        let header = BatchHeader(
            shape: BatchShape(batch: 2, boxes: 4, classes: 3), run: "r", source: "rank0", epoch: 1, seq: 3)
        let result = LossResult(
            perItem: [1.0, 0.5], classPerItem: [0.75, 0.5], locPerItem: [0.5, 0.125], loss: 0.75,
            classification: 0.5, localization: 0.25, positives: 2.5, negatives: 6, negativesAvailable: 8)
        let record = LossRecord(
            header: header, parameters: LossParameters(), result: result, computeMicros: 120, sidecar: "host:1")
        var expected = Self.lossRecord
        // The sums before the division: Σ class_b = 1.25 and Σ loc_b = 0.625, over max(1, 2.5).
        expected.sums = LossSums(classification: 1.25, localization: 0.625, normalizer: 2.5)
        #expect(record == expected)
    }

    @Test(arguments: [
        ("not json", "the line is not valid JSON"),
        ("[1]", "not a record object"),
        (#"{"kind":"loss"}"#, #"no "v""#),
        (#"{"v":2,"kind":"loss"}"#, "only version 1"),
        (#"{"v":"1","kind":"loss"}"#, "only version 1"),
        (#"{"v":1}"#, #"no "kind""#),
        (#"{"v":1,"kind":"metric"}"#, #""kind" is "metric""#),
        (#"{"v":1,"kind":"loss","batch":1,"boxes":1,"classes":2}"#, #""per_item" is missing"#),
        (#"{"v":1,"kind":"loss","batch":1,"boxes":1,"classes":2,"per_item":["x"]}"#, "not an array of numbers"),
        (#"{"v":1,"kind":"loss","per_item":[1],"batch":1,"boxes":1,"classes":2}x"#, "not valid JSON"),
        (#"{"v":1,"kind":"error","code":"exploded","error":"x"}"#, "does not know"),
        (#"{"v":1,"kind":"error","code":"bad_header"}"#, #"no "error""#),
    ])
    func rejectsLinesThatAreNotV1Records(line: String, reason: String) {
        #expect {
            _ = try ResultRecord(jsonLine: Array(line.utf8))
        } throws: { error in
            guard let error = error as? RecordDecodingError else { return false }
            return error.reason.contains(reason)
        }
    }

    @Test func perItemCanBeCheckedWithoutBeingConverted() throws {
        let line = ResultRecord.loss(Self.lossRecord).jsonLine()
        let skipped = try line.withUnsafeBytes { try ResultRecord(jsonLine: $0, decodingPerItem: false) }
        var expected = Self.lossRecord
        expected.perItem = []
        #expect(skipped == .loss(expected))
        #expect(try ResultRecord(jsonLine: line) == .loss(Self.lossRecord))
    }

    @Test(arguments: [#"[1.0,"x"]"#, "[1.e5]", "[-]", "[01]", "[1,]", "[1 2]", "[nul]", "[1.0e]"])
    func perItemThatIsNotNumbersIsRefusedEvenWhenSkipped(perItem: String) {
        let line =
            #"{"v":1,"kind":"loss","batch":2,"boxes":4,"classes":3,"loss":1,"classification":1,"localization":0,"#
            + #""per_item":\#(perItem),"positives":1,"negatives":3,"negatives_available":5}"#
        #expect(throws: RecordDecodingError.self) {
            _ = try Array(line.utf8).withUnsafeBytes { try ResultRecord(jsonLine: $0, decodingPerItem: false) }
        }
    }
}

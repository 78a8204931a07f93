import Foundation
import SSDLoss
import Testing

@testable import LossWire

/// The record decoder's fast path (``RecordScanner``) against the general decoder: it must take
/// the lines lossd writes, decode every line it takes to the general decoder's record, and
/// leave every line the general decoder rejects to it.
@Suite("Record scanner")
struct RecordScannerTests {
    /// A record as a sidecar writes it: per-image losses, sums, per-class figures for C = 21.
    static let sidecarRecord: LossRecord = {
        let classes = (1..<21).map { index in
            BatchDiagnostics.ClassFigures(
                classIndex: index, positives: Double(50 + index), classificationSum: 147.71214141332368 / Double(index))
        }
        return LossRecord(
            run: "resnet-ssd300", split: "train", source: "rank3", epoch: 2, step: 1200, seq: 1200,
            stream: "4f2a9c", rank: 3, worldSize: 8, shape: BatchShape(batch: 4, boxes: 8732, classes: 21),
            loss: 17.544470788987955, classification: 14.652406185189285, localization: 2.892064603798671,
            perItem: [15.958764426919805, 16.697473070543168, 1e-05, -0.0], positives: 1423,
            negatives: 4269, negativesAvailable: 275_264,
            sums: LossSums(classification: 20850.374001524353, localization: 4115.407931205509, normalizer: 1423),
            diagnostics: BatchDiagnostics(
                imagesWithoutPositives: 1, maxPositiveShare: 0.006298671552908841, classes: classes),
            parameters: LossParameters(negPosRatio: 3, nNegMin: 7, alpha: 0.5, mining: .image, scores: .logits),
            computeMicros: 30128, sidecar: "trainer-3:4121")
    }()

    /// The general decoder's record and the fast path's (nil when it left the line alone).
    private func bothDecoders(
        _ line: [UInt8], decodingPerItem: Bool
    ) -> (general: Result<ResultRecord, RecordDecodingError>, fast: LossRecord?) {
        line.withUnsafeBytes { bytes in
            let general = Result { () throws(RecordDecodingError) in
                try ResultRecord(generalJSONLine: bytes, decodingPerItem: decodingPerItem)
            }
            return (general, RecordScanner.record(bytes, decodingPerItem: decodingPerItem))
        }
    }

    /// Checks that the fast path took nothing the general decoder rejects and decoded what it
    /// took to the same record (compared as written, so that NaN compares equal); returns
    /// whether it took the line.
    @discardableResult
    private func expectAgreement(_ line: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        var took = false
        for decodingPerItem in [false, true] {
            let (general, fast) = bothDecoders(line, decodingPerItem: decodingPerItem)
            guard let fast else { continue }
            took = true
            switch general {
            case .success(let record):
                #expect(
                    ResultRecord.loss(fast).jsonLine() == record.jsonLine(),
                    "\(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
                #expect(fast.perItem.count == (decodingPerItem ? record.lossRecord?.perItem.count : 0))
            case .failure(let error):
                let text = String(decoding: line, as: UTF8.self)
                Issue.record(
                    "the fast path took a line the general decoder rejects (\(error)): \(text)",
                    sourceLocation: sourceLocation)
            }
        }
        return took
    }

    @Test func takesTheLinesLossdWrites() throws {
        var records = [Self.sidecarRecord]
        var bare = Self.sidecarRecord
        bare.epoch = nil
        bare.step = nil
        bare.seq = nil
        bare.stream = nil
        bare.rank = nil
        bare.worldSize = nil
        bare.sums = nil
        bare.diagnostics = nil
        records.append(bare)
        var nonfinite = Self.sidecarRecord
        nonfinite.loss = .nan
        nonfinite.perItem[1] = .infinity
        nonfinite.diagnostics?.classes[3].classificationSum = .nan
        records.append(nonfinite)
        for record in records {
            let line = record.jsonLine()
            #expect(expectAgreement(line), "the fast path left a line lossd wrote to the general decoder")
            let decoded = try ResultRecord(jsonLine: line)
            #expect(decoded.jsonLine() == line)
        }
        #expect(try ResultRecord(jsonLine: Self.sidecarRecord.jsonLine()) == .loss(Self.sidecarRecord))
    }

    @Test func agreesOnOtherSpellingsOfARecord() {
        let line = String(decoding: Self.sidecarRecord.jsonLine(), as: UTF8.self)
        func replacing(_ old: String, _ new: String) -> String { line.replacingOccurrences(of: old, with: new) }
        let spaced = line.replacingOccurrences(of: ",", with: ", ").replacingOccurrences(of: ":", with: ": ")
        let variants: [String] = [
            // Python's json.dumps: a space after every separator, and whitespace around the line.
            " " + spaced + "\r\n",
            replacing("{", "{ \n").replacingOccurrences(of: "}", with: "\t}"),
            // Unknown members, at every level, of every kind.
            replacing(#""v":1,"#, #""v":1,"future":{"a":[1,{"b":null}],"c":"\u00e9"},"#),
            replacing(#""class":5,"#, #""class":5,"note":[true,false],"#),
            replacing(#""max_positive_share""#, #""extra":-1.5e-3,"max_positive_share""#),
            replacing(#""alpha""#, #""beta":"x","alpha""#),
            // Members in another order, repeated members (the last one counts), nulls.
            replacing(#"{"class":2,"positives":52.0,"#, #"{"positives":52.0,"class":2,"#),
            replacing(#""loss":17.544470788987955"#, #""loss":1,"loss":null"#),
            replacing(#""run":"resnet-ssd300""#, #""run":null"#),
            replacing(#""epoch":2"#, #""epoch":null"#),
            replacing(#""profile":"keras""#, #""profile":null"#),
            replacing(#""profile":"keras""#, #""profile":"mmdet""#),
            replacing(#""params":{"#, #""params":null,"ignored":{"#),
            replacing(#""alpha":0.5"#, #""alpha":null"#),
            replacing(#""sidecar":"trainer-3:4121""#, #""sidecar":"hôte-ünï:1""#),
            replacing(#""source":"rank3""#, #""source":"a much longer source name, heap""#),
            // A C that does not match the entries (the class array is sized from it).
            replacing(#""classes":21"#, #""classes":-9223372036854775808"#),
            replacing(#""classes":21"#, #""classes":9223372036854775807"#),
            replacing(#""classes":21"#, #""classes":2"#),
            // What the fast path leaves to the general decoder.
            replacing(#""run":"resnet-ssd300""#, #""run":"res\u006eet""#),
            replacing(#""batch""#, #""b\u0061tch""#),
            replacing(#""normalizer":1423.0"#, #""normalizer":null"#),
            replacing(#""diagnostics":{"#, #""diagnostics":null,"d":{"#),
            replacing(#""per_item":[15.958764426919805"#, #""per_item":[15.9,null"#),
            replacing(#""negatives":4269"#, #""negatives":4269.0"#),
            replacing(#""v":1"#, #""v":1,"kind":"error""#),
        ]
        for variant in variants {
            expectAgreement(Array(variant.utf8))
        }
        // The spellings every producer may use are taken, not only lossd's own.
        #expect(expectAgreement(Array(variants[0].utf8)))
        #expect(expectAgreement(Array(variants[2].utf8)))
        #expect(expectAgreement(Array(variants[6].utf8)))
        #expect(expectAgreement(Array(variants[16].utf8)))
    }

    @Test func leavesEveryLineTheGeneralDecoderRejects() {
        let line = String(decoding: Self.sidecarRecord.jsonLine(), as: UTF8.self)
        func replacing(_ old: String, _ new: String) -> String { line.replacingOccurrences(of: old, with: new) }
        let rejected: [String] = [
            "", " ", "{", "}", "[]", "null", line + "x", line + "}", String(line.dropLast()),
            replacing(#""v":1"#, #""v":2"#),
            replacing(#""v":1,"#, ""),
            replacing(#""kind":"loss""#, #""kind":"metric""#),
            replacing(#""batch":4,"#, ""),
            replacing(#""batch":4"#, #""batch":null"#),
            replacing(#""batch":4"#, #""batch":99999999999999999999"#),
            replacing(#""loss":17.544470788987955"#, #""loss":"17.5""#),
            replacing(#""loss":17.544470788987955"#, #""loss":017.5"#),
            replacing(#""loss":17.544470788987955"#, #""loss":17."#),
            replacing(#""loss":17.544470788987955"#, #""loss":1e"#),
            replacing(#""loss":17.544470788987955"#, #""loss":NaN"#),
            replacing(#""normalizer":1423.0,"#, ""),
            replacing(#""class":5"#, #""class":5.0"#),
            replacing(#"{"class":5,"#, #"{"#),
            replacing(#""classes":["#, #""classes":[1,"#),
            replacing(#""mining":"image""#, #""mining":"random""#),
            replacing(#""profile":"keras""#, #""profile":"tf""#),
            replacing(#""per_item":["#, #""per_item":["x","#),
            replacing(#""per_item":["#, #""per_item":[01,"#),
            replacing(#""run":"resnet-ssd300""#, "\"run\":\"a\u{1}b\""),
            replacing(",", ",,"),
            replacing(#""v":1,"#, #""v":1,"x":{"a":1,"a":2},"#),
        ]
        for text in rejected {
            for decodingPerItem in [false, true] {
                let (general, fast) = bothDecoders(Array(text.utf8), decodingPerItem: decodingPerItem)
                if case .failure = general {
                    #expect(fast == nil, "the fast path took a line the general decoder rejects: \(text)")
                }
            }
        }
        // Invalid UTF-8 in a label.
        var bytes = Array(line.utf8)
        if let index = bytes.firstIndex(of: UInt8(ascii: "3")) { bytes[index] = 0xFF }
        let (general, fast) = bothDecoders(bytes, decodingPerItem: false)
        #expect((try? general.get()) == nil)
        #expect(fast == nil)
    }

    @Test func agreesOnRandomlyDamagedLines() {
        var generator = SplitMix64(state: 0x5eed)
        let lines = [Self.sidecarRecord.jsonLine(), ResultRecordTests.lossRecord.jsonLine()]
        let alphabet = Array(#"{}[],:"\ -+.0123456789eEnulltrfa"#.utf8) + [0x00, 0x0A, 0xC3, 0xFF]
        var taken = 0
        for round in 0..<20_000 {
            var line = lines[round % lines.count]
            for _ in 0...(generator.next() % 3) {
                let position = Int(generator.next() % UInt64(line.count))
                let byte = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                switch generator.next() % 3 {
                case 0: line[position] = byte
                case 1: line.insert(byte, at: position)
                default: line.remove(at: position)
                }
            }
            if expectAgreement(line) { taken += 1 }
        }
        // Most damage breaks the JSON or a number; some leaves a valid record the fast path takes.
        #expect(taken > 100)
    }
}

extension ResultRecord {
    /// The loss record, for a loss record.
    fileprivate var lossRecord: LossRecord? {
        if case .loss(let record) = self { return record }
        return nil
    }
}

import LossWire
import SSDLoss
import Testing

/// The header keys of a sender's identity and place in a job (`stream`, `rank`, `world_size`),
/// and the un-normalised sums loss records carry for pooling ranks (docs/DISTRIBUTED.md).
@Suite("Streams, ranks and the sums records carry")
struct DistributedLabelTests {
    private func header(_ extra: String) throws(WireError) -> BatchHeader {
        try BatchHeader(parsing: TestMessages.bytes(#"{"v":1,"batch":2,"boxes":8,"classes":4,"seq":5"# + extra + "}"))
    }

    @Test("stream, rank and world_size are read, written back and echoed in the record")
    func roundTrip() throws {
        let parsed = try header(#","stream":"9f2c61d0a4b8e713","rank":3,"world_size":8,"step":40"#)
        #expect(parsed.stream == "9f2c61d0a4b8e713")
        #expect(parsed.rank == 3 && parsed.worldSize == 8)
        #expect(try BatchHeader(parsing: parsed.jsonBytes()) == parsed)
        #expect(parsed.labels.stream == "9f2c61d0a4b8e713" && parsed.labels.rank == 3 && parsed.labels.worldSize == 8)

        let record = BatchProcessor().process(TestMessages.message(parsed), workspace: LossWorkspace())
        guard case .loss(let loss) = record else {
            Issue.record("expected a loss record, got \(record)")
            return
        }
        #expect(loss.stream == "9f2c61d0a4b8e713" && loss.rank == 3 && loss.worldSize == 8 && loss.step == 40)
        let line = String(decoding: loss.jsonLine(), as: UTF8.self)
        #expect(line.contains(#""seq":5,"stream":"9f2c61d0a4b8e713","rank":3,"world_size":8,"batch":2"#))
        #expect(try ResultRecord(jsonLine: loss.jsonLine()) == .loss(loss))
    }

    @Test("a header without them stays as it was: no stream, no rank, nothing written")
    func absent() throws {
        let parsed = try header("")
        #expect(parsed.stream == nil && parsed.rank == nil && parsed.worldSize == nil)
        let text = String(decoding: parsed.jsonBytes(), as: UTF8.self)
        #expect(!text.contains("stream") && !text.contains("rank") && !text.contains("world_size"))
        // A null counts as absent, as for every other key.
        let nulls = try header(#","stream":null,"rank":null,"world_size":null"#)
        #expect(nulls.stream == nil && nulls.rank == nil && nulls.worldSize == nil)
    }

    @Test(
        "bad values are bad_labels naming the key; the error keeps the valid labels",
        arguments: [
            (#","stream":"""#, "\"stream\" is an empty string"),
            (#","stream":""# + String(repeating: "s", count: 129) + #"""#, "\"stream\" has 129 bytes"),
            (#","stream":7"#, "\"stream\" is an integer"),
            (#","rank":0,"world_size":0"#, "\"world_size\" is 0"),
            (#","rank":4,"world_size":4"#, "\"rank\" is 4 but \"world_size\" is 4"),
            (#","rank":-1,"world_size":4"#, "\"rank\" is -1"),
            (#","rank":1"#, "has \"rank\" but no \"world_size\""),
            (#","world_size":8"#, "has \"world_size\" but no \"rank\""),
            (#","rank":0,"world_size":2.5"#, "\"world_size\" is a number"),
        ])
    func rejected(_ extra: String, _ message: String) throws {
        #expect {
            _ = try header(#","run":"job""# + extra)
        } throws: { error in
            guard let error = error as? WireError else { return false }
            return error.code == .badLabels && error.message.contains(message) && error.labels.run == "job"
                && error.labels.seq == 5 && error.labels.rank == nil && error.labels.worldSize == nil
        }
    }

    @Test("an error record carries the stream and rank it could read")
    func errorRecord() throws {
        let message = TestMessages.message(
            header: #"{"v":1,"batch":2,"boxes":8,"classes":4,"stream":"ab","rank":1,"world_size":2,"seq":9}"#,
            frameSizes: [3])
        let record = BatchProcessor().process(message, workspace: LossWorkspace())
        guard case .error(let error) = record else {
            Issue.record("expected an error record, got \(record)")
            return
        }
        #expect(error.code == .badFrames)
        let line = String(decoding: error.jsonLine(), as: UTF8.self)
        #expect(line.contains(#""seq":9,"stream":"ab","rank":1,"world_size":2"#))
        #expect(try ResultRecord(jsonLine: error.jsonLine()) == record)
    }

    @Test("a record with only some of the sums is not a valid record")
    func partialSums() throws {
        let line =
            #"{"v":1,"kind":"loss","batch":1,"boxes":1,"classes":2,"loss":1,"classification":1,"localization":0,"#
            + #""per_item":[1],"positives":1,"negatives":0,"negatives_available":0,"classification_sum":1}"#
        #expect(throws: RecordDecodingError.self) { try ResultRecord(jsonLine: TestMessages.bytes(line)) }
    }

    /// A compact float32 batch of B images with a few positives each (image 2 has none), and
    /// logits that give every negative a loss.
    private func batch(profile: LossProfile) -> (WireMessage, positives: [Int]) {
        let (images, boxes, classes) = (3, 40, 5)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        var labels = [Int32](repeating: 0, count: images * boxes)
        let positives = [4, 11, 0]
        for image in 0..<images {
            for box in 0..<positives[image] { labels[image * boxes + box * 3] = Int32(1 + box % (classes - 1)) }
        }
        labels[5] = -1
        let gt = (0..<(images * boxes * 4)).map { _ in next() * 2 - 1 }
        let scores = (0..<(images * boxes * classes)).map { _ in next() * 6 - 3 }
        let predicted = (0..<(images * boxes * 4)).map { _ in next() * 2 - 1 }
        let header = BatchHeader(
            shape: BatchShape(batch: images, boxes: boxes, classes: classes), layout: .compact, scores: .logits,
            profile: profile)
        func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
        let message = WireMessage(
            copying: [header.jsonBytes(), bytes(labels), bytes(gt), bytes(scores), bytes(predicted)])
        return (message, positives)
    }

    @Test(
        "the sums divided by the normaliser are the record's classification and localization, bit for bit",
        arguments: LossProfile.allCases)
    func sums(_ profile: LossProfile) throws {
        let (message, positives) = batch(profile: profile)
        let record = BatchProcessor().process(message, workspace: LossWorkspace())
        guard case .loss(let loss) = record, let sums = loss.sums else {
            Issue.record("expected a loss record with sums, got \(record)")
            return
        }
        let expectedNormalizer =
            profile == .mmdet
            ? Double(positives.reduce(0) { $0 + max(1, $1) })
            : Double(max(1, positives.reduce(0, +)))
        #expect(loss.positives == Double(positives.reduce(0, +)))
        #expect(sums.normalizer == expectedNormalizer)
        #expect(sums.classification / sums.normalizer == loss.classification)
        #expect(sums.localization / sums.normalizer == loss.localization)
        #expect(sums.classification > 0 && sums.localization > 0)
        #expect(try ResultRecord(jsonLine: loss.jsonLine()) == .loss(loss))
    }
}

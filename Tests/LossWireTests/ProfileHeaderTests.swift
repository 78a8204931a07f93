import LossWire
import SSDLoss
import Testing

@Suite("The profile key: headers, refusals, records")
struct ProfileHeaderTests {
    private let dims = #""batch":2,"boxes":5,"classes":4"#
    private var keras: Int { TestMessages.keras32(2, 5, 4) }

    private func decode(_ json: String, defaults: LossParameters = LossParameters()) throws(WireError) -> DecodedBatch {
        try BatchDecoder.decode(TestMessages.message(header: json, frameSizes: [keras, keras]), defaults: defaults)
    }

    @Test("a header's profile brings that framework's settings; overrides with a knob apply on top")
    func namedProfile() throws {
        let batch = try decode(#"{"v":1,\#(dims),"profile":"torchvision","loss":{"neg_pos_ratio":5}}"#)
        #expect(batch.header.profile == .torchvision)
        var expected = LossProfile.torchvision.parameters
        expected.negPosRatio = 5
        #expect(batch.parameters == expected)
        #expect(
            try decode(#"{"v":1,\#(dims),"profile":"ssd.pytorch"}"#).parameters == LossProfile.ssdPytorch.parameters)
        #expect(
            try decode(#"{"v":1,\#(dims),"profile":"mmdet","scores":"logits"}"#).parameters
                == LossProfile.mmdet.parameters)
    }

    @Test("the configured settings apply to a header that names no profile or the configured one, not another")
    func configuredDefaults() throws {
        let configured = LossParameters(negPosRatio: 4, alpha: 2, mining: .image)
        #expect(try decode(#"{"v":1,\#(dims)}"#, defaults: configured).parameters == configured)
        #expect(try decode(#"{"v":1,\#(dims),"profile":"keras"}"#, defaults: configured).parameters == configured)
        #expect(
            try decode(#"{"v":1,\#(dims),"profile":"mmdet"}"#, defaults: configured).parameters
                == LossProfile.mmdet.parameters)
        var torchvision = LossProfile.torchvision.parameters
        torchvision.negPosRatio = 2
        #expect(try decode(#"{"v":1,\#(dims)}"#, defaults: torchvision).parameters == torchvision)
    }

    @Test("an unknown profile is a bad_header naming the key and the accepted values")
    func unknownProfile() throws {
        let error = try #require(throws: WireError.self) {
            try decode(#"{"v":1,\#(dims),"profile":"detectron","run":"r"}"#)
        }
        #expect(error.code == .badHeader)
        #expect(
            error.message
                == #"the header's "profile" is "detectron"; use one of keras, torchvision, mmdet, ssd.pytorch"#)
        #expect(error.labels.run == "r")
    }

    @Test(
        "an override the profile cannot take is a bad_header naming the key and the accepted value",
        arguments: [
            (
                #""loss":{"mining":"batch"}"#,
                #"the header's "loss.mining" is batch: profile torchvision cannot take it: torchvision mines each "#
                    + #"image alone; accepted: image (or choose profile keras)"#
            ),
            (
                #""loss":{"alpha":0.5}"#,
                #"the header's "loss.alpha" is 0.5: profile torchvision cannot take it: torchvision adds the "#
                    + #"localization loss with weight 1; accepted: 1.0 (or choose profile keras)"#
            ),
            (
                #""loss":{"n_neg_min":2}"#,
                #"the header's "loss.n_neg_min" is 2: profile torchvision cannot take it: torchvision keeps no "#
                    + #"minimum of negatives; accepted: 0 (or choose profile keras)"#
            ),
            (
                #""scores":"probabilities""#,
                #"the header's "scores" is probabilities: profile torchvision cannot take it: torchvision takes the "#
                    + #"cross-entropy of raw logits; accepted: logits (or choose profile keras)"#
            ),
        ])
    func refusedOverride(_ extra: String, _ message: String) throws {
        let error = try #require(throws: WireError.self) {
            try decode(#"{"v":1,\#(dims),"profile":"torchvision",\#(extra),"seq":4}"#)
        }
        #expect(error.code == .badHeader)
        #expect(error.message == message)
        #expect(error.labels.seq == 4)
    }

    @Test("a configured setting the header's profile cannot take says it came from the configuration")
    func refusedConfigured() throws {
        var configured = LossProfile.mmdet.parameters
        configured.mining = .batch  // as if a caller built inconsistent defaults
        let error = try #require(throws: WireError.self) { try decode(#"{"v":1,\#(dims)}"#, defaults: configured) }
        #expect(error.message.hasPrefix("the configured loss.mining is batch: profile mmdet cannot take it"))
    }

    @Test("the header writes its profile; the record names the profile it was computed with")
    func writtenAndRead() throws {
        let header = BatchHeader(shape: BatchShape(batch: 1, boxes: 2, classes: 3), profile: .ssdPytorch)
        #expect(String(decoding: header.jsonBytes(), as: UTF8.self).contains(#""profile":"ssd.pytorch""#))
        #expect(try BatchHeader(parsing: header.jsonBytes()) == header)

        let record = LossRecord(
            run: "r", split: "train", source: "", shape: header.shape, loss: 1, classification: 0.5,
            localization: 0.5, perItem: [1], positives: 1, negatives: 3, negativesAvailable: 4,
            parameters: LossProfile.torchvision.parameters, computeMicros: 1, sidecar: "s")
        let line = String(decoding: record.jsonLine(), as: UTF8.self)
        #expect(line.contains(#""negatives_available":4,"profile":"torchvision","params":{"#))
        guard case .loss(let decoded) = try ResultRecord(jsonLine: record.jsonLine()) else {
            Issue.record("not a loss record")
            return
        }
        #expect(decoded.parameters == record.parameters)
        let old =
            #"{"v":1,"kind":"loss","batch":1,"boxes":2,"classes":3,"loss":1,"classification":1,"localization":0,"#
            + #""per_item":[1],"positives":1,"negatives":0,"negatives_available":0}"#
        guard case .loss(let legacy) = try ResultRecord(jsonLine: Array(old.utf8)) else { return }
        #expect(legacy.parameters.profile == .keras)
    }
}

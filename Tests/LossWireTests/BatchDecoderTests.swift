import SSDLoss
import Testing

@testable import LossWire

/// One malformed message and the error code it must produce.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var frames: [[UInt8]]
    var code: ErrorCode
    var limits = WireLimits()

    var testDescription: String { name }

    init(
        _ name: String, _ code: ErrorCode, header: String, frames sizes: [Int]? = nil, limits: WireLimits = WireLimits()
    ) {
        self.name = name
        self.code = code
        self.limits = limits
        let sizes = sizes ?? [TestMessages.keras32(2, 50, 4), TestMessages.keras32(2, 50, 4)]
        frames = [Array(header.utf8)] + sizes.map { [UInt8](repeating: 0, count: $0) }
    }

    init(_ name: String, _ code: ErrorCode, rawFrames: [[UInt8]], limits: WireLimits = WireLimits()) {
        self.name = name
        self.code = code
        self.frames = rawFrames
        self.limits = limits
    }
}

private let dims = #""batch":2,"boxes":50,"classes":4"#
private let keras = TestMessages.keras32(2, 50, 4)
private let compactSizes = [2 * 50 * 4, 2 * 50 * 4 * 4, 2 * 50 * 4 * 4, 2 * 50 * 4 * 4]

let malformedCases: [MalformedCase] = [
    // Header frame.
    MalformedCase("empty header", .badHeader, header: ""),
    MalformedCase("header not UTF-8", .badHeader, rawFrames: [[0x7B, 0xFF, 0xFE, 0x7D], [], []]),
    MalformedCase("header is a JSON array", .badHeader, header: "[1,2,3]"),
    MalformedCase("header is a JSON number", .badHeader, header: "42"),
    MalformedCase("header is a JSON string", .badHeader, header: #""v""#),
    MalformedCase("header is not JSON", .badHeader, header: "{v:1}"),
    MalformedCase("header has a duplicate key", .badHeader, header: #"{"v":1,"v":1,\#(dims)}"#),
    MalformedCase(
        "header over max_header_bytes", .badHeader,
        header: #"{"v":1,\#(dims),"pad":"\#(String(repeating: "x", count: 70_000))"}"#),
    // Version.
    MalformedCase("v missing", .badHeader, header: "{\(dims)}"),
    MalformedCase("v is a string", .badHeader, header: #"{"v":"1",\#(dims)}"#),
    MalformedCase("v is 1.0", .badHeader, header: #"{"v":1.0,\#(dims)}"#),
    MalformedCase("v is 2", .unsupportedVersion, header: #"{"v":2,\#(dims)}"#),
    MalformedCase("v is 0", .unsupportedVersion, header: #"{"v":0,\#(dims)}"#),
    MalformedCase("v 2 checked before dims", .unsupportedVersion, header: #"{"v":2}"#),
    // Dimensions.
    MalformedCase("batch missing", .badHeader, header: #"{"v":1,"boxes":50,"classes":4}"#),
    MalformedCase("boxes missing", .badHeader, header: #"{"v":1,"batch":2,"classes":4}"#),
    MalformedCase("classes missing", .badHeader, header: #"{"v":1,"batch":2,"boxes":50}"#),
    MalformedCase("batch zero", .badHeader, header: #"{"v":1,"batch":0,"boxes":50,"classes":4}"#),
    MalformedCase("boxes negative", .badHeader, header: #"{"v":1,"batch":2,"boxes":-1,"classes":4}"#),
    MalformedCase("classes 1", .badHeader, header: #"{"v":1,"batch":2,"boxes":50,"classes":1}"#),
    MalformedCase("batch fractional", .badHeader, header: #"{"v":1,"batch":2.5,"boxes":50,"classes":4}"#),
    MalformedCase("batch a string", .badHeader, header: #"{"v":1,"batch":"2","boxes":50,"classes":4}"#),
    MalformedCase(
        "batch beyond Int", .badHeader, header: #"{"v":1,"batch":99999999999999999999,"boxes":50,"classes":4}"#),
    MalformedCase("B*N overflows", .badHeader, header: #"{"v":1,"batch":4294967296,"boxes":4294967296,"classes":4}"#),
    MalformedCase(
        "B*N*(C+12)*width overflows", .badHeader,
        header: #"{"v":1,"batch":2097152,"boxes":2097152,"classes":1048576}"#),
    MalformedCase("C+12 overflows", .badHeader, header: #"{"v":1,"batch":1,"boxes":1,"classes":9223372036854775800}"#),
    // Settings.
    MalformedCase("unknown dtype", .badHeader, header: #"{"v":1,\#(dims),"dtype":"int8"}"#),
    MalformedCase("dtype a number", .badHeader, header: #"{"v":1,\#(dims),"dtype":32}"#),
    MalformedCase("unknown layout", .badHeader, header: #"{"v":1,\#(dims),"layout":"nchw"}"#),
    MalformedCase("unknown scores", .badHeader, header: #"{"v":1,\#(dims),"scores":"softmax"}"#),
    MalformedCase("unknown mining", .badHeader, header: #"{"v":1,\#(dims),"loss":{"mining":"global"}}"#),
    MalformedCase("negative neg_pos_ratio", .badHeader, header: #"{"v":1,\#(dims),"loss":{"neg_pos_ratio":-1}}"#),
    MalformedCase("fractional n_neg_min", .badHeader, header: #"{"v":1,\#(dims),"loss":{"n_neg_min":1.5}}"#),
    MalformedCase("negative alpha", .badHeader, header: #"{"v":1,\#(dims),"loss":{"alpha":-0.5}}"#),
    MalformedCase("infinite alpha", .badHeader, header: #"{"v":1,\#(dims),"loss":{"alpha":1e999}}"#),
    MalformedCase("loss not an object", .badHeader, header: #"{"v":1,\#(dims),"loss":[3]}"#),
    // Labels.
    MalformedCase(
        "run over 128 bytes", .badLabels, header: #"{"v":1,\#(dims),"run":"\#(String(repeating: "r", count: 129))"}"#),
    MalformedCase(
        "source over 128 bytes in UTF-8", .badLabels,
        header: #"{"v":1,\#(dims),"source":"\#(String(repeating: "é", count: 65))"}"#),
    MalformedCase("split a number", .badLabels, header: #"{"v":1,\#(dims),"split":3}"#),
    MalformedCase("seq negative", .badLabels, header: #"{"v":1,\#(dims),"seq":-1}"#),
    MalformedCase("epoch a string", .badLabels, header: #"{"v":1,\#(dims),"epoch":"1"}"#),
    MalformedCase("step fractional", .badLabels, header: #"{"v":1,\#(dims),"step":1.5}"#),
    // Frames.
    MalformedCase("no frames", .badFrames, rawFrames: []),
    MalformedCase("keras with 1 tensor", .badFrames, header: #"{"v":1,\#(dims)}"#, frames: [keras]),
    MalformedCase("keras with 3 tensors", .badFrames, header: #"{"v":1,\#(dims)}"#, frames: [keras, keras, keras]),
    MalformedCase(
        "compact with 2 tensors", .badFrames, header: #"{"v":1,\#(dims),"layout":"compact"}"#, frames: [keras, keras]),
    MalformedCase("y_true one byte short", .badFrames, header: #"{"v":1,\#(dims)}"#, frames: [keras - 1, keras]),
    MalformedCase("y_pred one byte long", .badFrames, header: #"{"v":1,\#(dims)}"#, frames: [keras, keras + 1]),
    MalformedCase("float64 sized as float32", .badFrames, header: #"{"v":1,\#(dims),"dtype":"float64"}"#),
    MalformedCase(
        "compact labels one short", .badFrames, header: #"{"v":1,\#(dims),"layout":"compact"}"#,
        frames: [compactSizes[0] - 1] + compactSizes[1...]),
    MalformedCase(
        "compact scores one long", .badFrames, header: #"{"v":1,\#(dims),"layout":"compact"}"#,
        frames: [compactSizes[0], compactSizes[1], compactSizes[2] + 1, compactSizes[3]]),
    // Size.
    MalformedCase(
        "over max_message_bytes", .tooLarge, header: #"{"v":1,\#(dims)}"#,
        limits: WireLimits(maxMessageBytes: 2 * keras)),
    MalformedCase(
        "too large beats a bad header", .tooLarge, rawFrames: [[0xFF], [UInt8](repeating: 0, count: 100)],
        limits: WireLimits(maxMessageBytes: 64)),
]

@Suite("Batch decoding")
struct BatchDecoderTests {
    @Test(arguments: malformedCases)
    func rejectsMalformedMessages(_ testCase: MalformedCase) {
        let message = WireMessage(copying: testCase.frames)
        #expect {
            _ = try BatchDecoder.decode(message, defaults: LossParameters(), limits: testCase.limits)
        } throws: { error in
            guard let error = error as? WireError else { return false }
            #expect(!error.message.isEmpty)
            return error.code == testCase.code
        }
    }

    @Test func frameSizeErrorNamesFrameAndSizes() throws {
        let message = TestMessages.message(header: #"{"v":1,\#(dims)}"#, frameSizes: [keras, 1000])
        let error = try #require(throws: WireError.self) {
            try BatchDecoder.decode(message, defaults: LossParameters())
        }
        #expect(error.code == .badFrames)
        #expect(
            error.message
                == "frame 2 (y_pred) has 1000 bytes; the header's batch=2 boxes=50 classes=4 keras float32 needs 6400")
    }

    /// A receiver keeps at most 16 frames and tells the message how many were sent: the decoder
    /// counts those, and a message that fails earlier keeps its own sentence.
    @Test func messagesCutShortByTheReceiverAreJudgedOnTheFramesSent() throws {
        let header = BatchHeader(shape: BatchShape(batch: 2, boxes: 50, classes: 4), seq: 3)
        let frames = [header.jsonBytes()] + TestMessages.tensors(for: header) + Array(repeating: [UInt8](), count: 14)
        func truncated(_ frames: [[UInt8]]) -> WireMessage {
            let kept = WireMessage(copying: Array(frames.prefix(16)))
            return WireMessage(frames: kept.frames, sentFrameCount: frames.count, receiveTimeNs: 0) {
                withExtendedLifetime(kept) {}
            }
        }
        let tooMany = try #require(throws: WireError.self) {
            try BatchDecoder.decode(truncated(frames), defaults: LossParameters())
        }
        #expect(tooMany.code == .badFrames)
        #expect(tooMany.message.contains("the message has 17"), "\(tooMany.message)")
        #expect(tooMany.labels.seq == 3)
        let badHeader = try #require(throws: WireError.self) {
            try BatchDecoder.decode(
                truncated([TestMessages.bytes("{v:1}")] + frames.dropFirst()), defaults: LossParameters())
        }
        #expect(badHeader.code == .badHeader)
        #expect(badHeader.message.contains("not valid JSON"), "\(badHeader.message)")
    }

    @Test func errorsCarryTheLabelsReadSoFar() throws {
        let message = TestMessages.message(
            header: #"{"v":1,"batch":0,"boxes":50,"classes":4,"run":"r1","split":"val","seq":7,"epoch":2}"#,
            frameSizes: [])
        let error = try #require(throws: WireError.self) {
            try BatchDecoder.decode(message, defaults: LossParameters())
        }
        #expect(error.code == .badHeader)
        #expect(error.labels == BatchLabels(run: "r1", split: "val", source: "", epoch: 2, seq: 7))

        let badRun = TestMessages.message(
            header: #"{"v":1,\#(dims),"run":"\#(String(repeating: "r", count: 200))","seq":3}"#,
            frameSizes: [keras, keras])
        let labelError = try #require(throws: WireError.self) {
            try BatchDecoder.decode(badRun, defaults: LossParameters())
        }
        #expect(labelError.code == .badLabels)
        #expect(labelError.labels == BatchLabels(run: nil, split: "train", source: "", seq: 3))

        let sizeError = try #require(throws: WireError.self) {
            try BatchDecoder.decode(
                TestMessages.message(header: #"{"v":1,\#(dims),"run":"r2"}"#, frameSizes: [keras, keras - 4]),
                defaults: LossParameters())
        }
        #expect(sizeError.labels.run == "r2")

        let unparsed = try #require(throws: WireError.self) {
            try BatchDecoder.decode(TestMessages.message(header: "nope", frameSizes: []), defaults: LossParameters())
        }
        #expect(unparsed.labels == .none)
    }

    @Test func decodesKerasWithoutCopying() throws {
        let header = BatchHeader(shape: BatchShape(batch: 2, boxes: 3, classes: 5), run: "exp", seq: 0)
        let message = TestMessages.message(header)
        let batch = try BatchDecoder.decode(message, defaults: LossParameters())
        #expect(batch.header == header)
        #expect(batch.shape == header.shape)
        #expect(batch.dtype == .float32)
        #expect(batch.layout == .keras)
        batch.withInput { input in
            guard case .keras(let yTrue, let yPred) = input else {
                Issue.record("expected keras input")
                return
            }
            #expect(yTrue.baseAddress == message.frames[1].baseAddress)
            #expect(yPred.baseAddress == message.frames[2].baseAddress)
            #expect(yTrue.count == 2 * 3 * 17 * 4)
        }
    }

    @Test(arguments: ScalarType.allCases)
    func decodesCompactInEveryDtype(_ dtype: ScalarType) throws {
        let header = BatchHeader(shape: BatchShape(batch: 3, boxes: 7, classes: 2), dtype: dtype, layout: .compact)
        let message = TestMessages.message(header)
        let batch = try BatchDecoder.decode(message, defaults: LossParameters())
        batch.withInput { input in
            guard case .compact(let labels, let gtOffsets, let scores, let predOffsets) = input else {
                Issue.record("expected compact input")
                return
            }
            #expect(labels.count == 3 * 7 * 4)
            #expect(gtOffsets.count == 3 * 7 * 4 * dtype.byteWidth)
            #expect(scores.count == 3 * 7 * 2 * dtype.byteWidth)
            #expect(predOffsets.baseAddress == message.frames[4].baseAddress)
        }
    }

    @Test func appliesDefaultsWhenTheHeaderIsSilent() throws {
        let defaults = LossParameters(negPosRatio: 5, nNegMin: 1, alpha: 0.25, mining: .image, scores: .logits)
        let message = TestMessages.message(
            header: #"{"v":1,\#(dims),"epoch":null,"extra":{"ignored":[1,2]}}"#, frameSizes: [keras, keras])
        let batch = try BatchDecoder.decode(message, defaults: defaults)
        #expect(batch.parameters == defaults)
        #expect(batch.header.run == "default")
        #expect(batch.header.split == "train")
        #expect(batch.header.source == "")
        #expect(batch.header.epoch == nil)
        #expect(batch.header.dtype == .float32)
        #expect(batch.header.layout == .keras)
    }

    @Test func appliesLossOverrides() throws {
        let json =
            #"{"v":1,\#(dims),"scores":"logits","#
            + #""loss":{"neg_pos_ratio":1,"n_neg_min":2,"alpha":0.5,"mining":"image","future":true}}"#
        let batch = try BatchDecoder.decode(
            TestMessages.message(header: json, frameSizes: [keras, keras]), defaults: LossParameters())
        #expect(
            batch.parameters == LossParameters(negPosRatio: 1, nNegMin: 2, alpha: 0.5, mining: .image, scores: .logits))

        let partial = #"{"v":1,\#(dims),"loss":{"alpha":2}}"#
        let defaults = LossParameters(negPosRatio: 7)
        let partialBatch = try BatchDecoder.decode(
            TestMessages.message(header: partial, frameSizes: [keras, keras]), defaults: defaults)
        #expect(partialBatch.parameters == LossParameters(negPosRatio: 7, alpha: 2))
    }

    @Test func acceptsLimitsExactly() throws {
        let labels = #"{"v":1,\#(dims),"run":"\#(String(repeating: "r", count: 128))"}"#
        let message = TestMessages.message(header: labels, frameSizes: [keras, keras])
        _ = try BatchDecoder.decode(
            message, defaults: LossParameters(), limits: WireLimits(maxMessageBytes: message.totalBytes))
    }
}

@Suite("Batch header")
struct BatchHeaderTests {
    @Test func encodesInProtocolOrder() {
        let header = BatchHeader(
            shape: BatchShape(batch: 2, boxes: 3, classes: 4), dtype: .float16, layout: .compact, scores: .logits,
            run: "r \"1\"", split: "val", source: "rank0", epoch: 1, step: 20, seq: 5,
            loss: LossOverrides(negPosRatio: 2, alpha: 0.5))
        let text = String(decoding: header.jsonBytes(), as: UTF8.self)
        #expect(
            text == #"{"v":1,"batch":2,"boxes":3,"classes":4,"dtype":"float16","layout":"compact","scores":"logits","#
                + #""run":"r \"1\"","split":"val","source":"rank0","epoch":1,"step":20,"seq":5,"#
                + #""loss":{"neg_pos_ratio":2,"alpha":0.5}}"#)
    }

    @Test(arguments: [
        BatchHeader(shape: BatchShape(batch: 1, boxes: 1, classes: 2)),
        BatchHeader(
            shape: BatchShape(batch: 32, boxes: 8732, classes: 21), dtype: .bfloat16, layout: .compact,
            scores: .probabilities,
            run: "ünïcode 🐘", split: "", source: "a\nb", epoch: 0, step: 0, seq: 0,
            loss: LossOverrides(negPosRatio: 0, nNegMin: 0, alpha: 0, mining: .batch)),
    ])
    func roundTrips(_ header: BatchHeader) throws {
        #expect(try BatchHeader(parsing: header.jsonBytes()) == header)
    }
}

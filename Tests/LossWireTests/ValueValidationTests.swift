import SSDLoss
import Testing

@testable import LossWire

/// The tensor values of decoded batches, checked on the one batch path: the kernel finds
/// non-finite values and compact labels out of range, and ``BatchProcessor`` turns what it finds
/// into the error record.
@Suite("Tensor value checks")
struct ValueValidationTests {
    /// The one record of `frames`.
    private func record(_ frames: [[UInt8]]) -> ResultRecord {
        BatchProcessor(sidecarID: "test").process(WireMessage(copying: frames), workspace: LossWorkspace())
    }

    /// The little-endian bytes of one non-finite value and of 1.0 in `dtype`.
    private func encoded(_ dtype: ScalarType) -> (nan: [UInt8], inf: [UInt8]) {
        switch dtype {
        case .float32: ([0x00, 0x00, 0xC0, 0x7F], [0x00, 0x00, 0x80, 0xFF])
        case .float16: ([0x00, 0x7E], [0x00, 0x7C])
        case .bfloat16: ([0xC0, 0x7F], [0x80, 0xFF])
        case .float64: ([0, 0, 0, 0, 0, 0, 0xF8, 0x7F], [0, 0, 0, 0, 0, 0, 0xF0, 0x7F])
        }
    }

    @Test(arguments: ScalarType.allCases)
    func countsNonfiniteValuesTheLossReads(_ dtype: ScalarType) throws {
        let header = BatchHeader(shape: BatchShape(batch: 2, boxes: 3, classes: 4), dtype: dtype, seq: 4)
        var tensors = TestMessages.tensors(for: header)
        let width = dtype.byteWidth
        let (nan, inf) = encoded(dtype)
        // y_true: a NaN in a class entry and an Inf in an offset; a NaN in an ignored trailing entry.
        tensors[0].replaceSubrange((1 * width)..<(2 * width), with: nan)
        tensors[0].replaceSubrange(((16 + 6) * width)..<((16 + 7) * width), with: inf)
        tensors[0].replaceSubrange(((16 + 12) * width)..<((16 + 13) * width), with: nan)
        // y_pred: one Inf.
        tensors[1].replaceSubrange(0..<width, with: inf)
        guard case .error(let error) = record([header.jsonBytes()] + tensors) else {
            Issue.record("a batch with non-finite values was computed")
            return
        }
        #expect(error.code == .nonfinite)
        #expect(error.labels.seq == 4)
        #expect(error.details?["nonfinite"] == .object(["y_true": .int(2), "y_pred": .int(1)]))
        #expect(
            error.details?["nonfinite_kinds"]
                == .object([
                    "y_true": .object(["gt_class": .int(1), "gt_offset": .int(1)]),
                    "y_pred": .object(["class_score": .int(1)]),
                ]))
    }

    /// The bytes of `value` in `dtype`.
    private func encoded(_ value: Double, _ dtype: ScalarType) -> [UInt8] {
        func bytes<T: FixedWidthInteger>(_ bits: T) -> [UInt8] { withUnsafeBytes(of: bits.littleEndian) { Array($0) } }
        switch dtype {
        case .float32: return bytes(Float(value).bitPattern)
        case .float16: return bytes(Float16(value).bitPattern)
        case .bfloat16: return bytes(UInt16(truncatingIfNeeded: Float(value).bitPattern >> 16))
        case .float64: return bytes(value.bitPattern)
        }
    }

    @Test(
        "one error record names a NaN at image 2, anchor 4000, class 7 and +Inf width at image 0, anchor 17",
        arguments: ScalarType.allCases, Layout.allCases)
    func locatesBothPlaces(_ dtype: ScalarType, _ layout: Layout) throws {
        let (b, n, c) = (3, 4001, 21)
        let header = BatchHeader(
            shape: BatchShape(batch: b, boxes: n, classes: c), dtype: dtype, layout: layout, seq: 2)
        var tensors = TestMessages.tensors(for: header)
        let w = dtype.byteWidth
        func put(_ tensor: Int, _ element: Int, _ value: Double) {
            tensors[tensor].replaceSubrange((element * w)..<((element + 1) * w), with: encoded(value, dtype))
        }
        let (truthTensor, scoreTensor) = layout == .keras ? ("y_true", "y_pred") : ("gt_offsets", "scores")
        if layout == .keras {
            put(1, (2 * n + 4000) * (c + 12) + 7, .nan)
            put(0, 17 * (c + 12) + c + 2, .infinity)
        } else {
            put(2, (2 * n + 4000) * c + 7, .nan)
            put(1, 17 * 4 + 2, .infinity)
        }
        guard case .error(let error) = record([header.jsonBytes()] + tensors) else {
            Issue.record("a batch with non-finite values was computed")
            return
        }
        #expect(error.code == .nonfinite)
        #expect(error.message.contains("image 2, anchor 4000, column 7 (class 7 score)"))
        let column = layout == .keras ? c + 2 : 2
        #expect(error.message.contains("image 0, anchor 17, column \(column) (ground-truth offset w)"))
        guard case .array(let places)? = error.details?["nonfinite_places"], places.count == 2,
            case .object(let truth) = places[0], case .object(let score) = places[1]
        else {
            Issue.record("expected two places: \(String(describing: error.details))")
            return
        }
        #expect(truth["tensor"] == .string(truthTensor) && score["tensor"] == .string(scoreTensor))
        #expect(truth["image"] == .int(0) && truth["anchor"] == .int(17) && truth["column"] == .int(column))
        #expect(truth["kind"] == .string("gt_offset") && truth["value"] == .string("+Inf") && truth["class"] == nil)
        #expect(truth["meaning"] == .string("ground-truth offset w"))
        #expect(score["image"] == .int(2) && score["anchor"] == .int(4000) && score["column"] == .int(7))
        #expect(
            score["kind"] == .string("class_score") && score["class"] == .int(7) && score["value"] == .string("NaN"))
        #expect(score["meaning"] == .string("class 7 score"))
        #expect(truth["hint"]?.stringValue?.contains("degenerate box") == true)
        #expect(score["hint"]?.stringValue?.contains("diverged") == true)
        #expect(
            error.details?["nonfinite_kinds"]
                == .object([
                    truthTensor: .object(["gt_offset": .int(1)]), scoreTensor: .object(["class_score": .int(1)]),
                ]))
        // The record as the sink gets it decodes to the same error.
        #expect(try ResultRecord(jsonLine: ResultRecord.error(error).jsonLine()) == .error(error))
    }

    @Test func cleanBatchesPass() throws {
        let header = BatchHeader(shape: BatchShape(batch: 2, boxes: 3, classes: 4), layout: .compact)
        let outcome = record([header.jsonBytes()] + TestMessages.tensors(for: header))
        guard case .loss = outcome else {
            Issue.record("a clean batch was rejected: \(String(decoding: outcome.jsonLine(), as: UTF8.self))")
            return
        }
    }

    @Test func compactLabelsOutOfRangeAreBadLabels() throws {
        let header = BatchHeader(shape: BatchShape(batch: 1, boxes: 4, classes: 3), layout: .compact, run: "r")
        var tensors = TestMessages.tensors(for: header)
        let labels: [Int32] = [-1, 2, 3, -2]
        tensors[0] = labels.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        guard case .error(let error) = record([header.jsonBytes()] + tensors) else {
            Issue.record("a batch with labels out of range was computed")
            return
        }
        #expect(error.code == .badLabels)
        #expect(error.labels.run == "r")
        // The first label out of range, 3 at box 2, is named.
        #expect(error.message.contains("label 3 of box 2"), "\(error.message)")
    }
}

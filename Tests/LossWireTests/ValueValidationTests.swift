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
        #expect(error.details == ["nonfinite": .object(["y_true": .int(2), "y_pred": .int(1)])])
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

import SSDLoss

extension DecodedBatch {
    /// Checks the tensor values: NaN or ±Inf (`nonfinite`, with counts per tensor in `details`) and,
    /// in the `compact` layout, class labels outside −1…C−1 (`bad_labels`).
    ///
    /// A full pass over the tensors. The kernel does not need it to compute a loss; call it when a
    /// result comes out non-finite, to turn it into an error record that says where the bad values
    /// are, or when validating recordings.
    public func validateValues() throws(WireError) {
        let labelsOutOfRange = outOfRangeLabelCount()
        if labelsOutOfRange > 0 {
            throw WireError(
                code: .badLabels,
                message: "\(labelsOutOfRange) class labels lie outside -1...\(shape.classes - 1) for classes=\(shape.classes); "
                    + "use -1 to ignore a box, 0 for background and 1...C-1 for classes",
                labels: labels,
                details: ["labels_out_of_range": .int(labelsOutOfRange)])
        }
        let counts = nonfiniteCounts()
        if counts.values.contains(where: { $0 > 0 }) {
            throw WireError.nonfinite(counts: counts, labels: labels)
        }
    }

    /// The number of NaN or ±Inf values the loss would read, per tensor name.
    ///
    /// In the `keras` layout only the C class entries and 4 offsets of each box are counted (the 8
    /// trailing entries are ignored by the loss); in the `compact` layout every float tensor is.
    public func nonfiniteCounts() -> [String: Int] {
        withInput { input in
            switch input {
            case .keras(let yTrue, let yPred):
                let used = shape.classes + 4
                let stride = shape.kerasWidth
                return [
                    "y_true": Self.countNonfinite(yTrue, dtype: dtype, used: used, stride: stride),
                    "y_pred": Self.countNonfinite(yPred, dtype: dtype, used: used, stride: stride),
                ]
            case .compact(_, let gtOffsets, let scores, let predOffsets):
                return [
                    "gt_offsets": Self.countNonfinite(gtOffsets, dtype: dtype, used: 4, stride: 4),
                    "scores": Self.countNonfinite(scores, dtype: dtype, used: shape.classes, stride: shape.classes),
                    "pred_offsets": Self.countNonfinite(predOffsets, dtype: dtype, used: 4, stride: 4),
                ]
            }
        }
    }

    /// The number of `compact` labels outside −1…C−1; 0 in the `keras` layout.
    public func outOfRangeLabelCount() -> Int {
        withInput { input in
            guard case .compact(let labels, _, _, _) = input else { return 0 }
            let upper = Int32(clamping: shape.classes - 1)
            var count = 0
            for index in 0..<(labels.count / 4) {
                let label = Int32(littleEndian: labels.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
                if label < -1 || label > upper { count += 1 }
            }
            return count
        }
    }

    /// Counts values whose exponent bits are all ones (NaN or ±Inf) among the first `used` of every
    /// `stride` elements.
    private static func countNonfinite(
        _ buffer: UnsafeRawBufferPointer, dtype: ScalarType, used: Int, stride: Int
    ) -> Int {
        let width = dtype.byteWidth
        let elements = buffer.count / width
        var count = 0
        var rowStart = 0
        while rowStart < elements {
            for element in rowStart..<min(rowStart + used, elements) {
                let offset = element * width
                let nonfinite: Bool
                switch dtype {
                case .float32:
                    let bits = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                    nonfinite = bits & 0x7F80_0000 == 0x7F80_0000
                case .float16:
                    let bits = UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                    nonfinite = bits & 0x7C00 == 0x7C00
                case .bfloat16:
                    let bits = UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                    nonfinite = bits & 0x7F80 == 0x7F80
                case .float64:
                    let bits = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    nonfinite = bits & 0x7FF0_0000_0000_0000 == 0x7FF0_0000_0000_0000
                }
                if nonfinite { count += 1 }
            }
            rowStart += stride
        }
        return count
    }
}

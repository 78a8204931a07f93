/// Counts NaN and ±Inf values once the streaming pass has seen at least one.
///
/// This is the slow path: it runs only for a batch that is about to be rejected, and reads exactly
/// the values the loss reads (in the keras layout, the C class entries and 4 offsets of each box;
/// the 8 ignored trailing entries are skipped).
enum NonfiniteScanner {
    static func keras<R: ScalarReader>(
        _ reader: R.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer, shape: BatchShape
    ) -> NonfiniteReport {
        let read = shape.classes + 4
        let width = shape.kerasWidth
        func scan(_ base: UnsafeRawPointer) -> NonfiniteReport.Counts {
            var counts = NonfiniteReport.Counts()
            for box in 0..<shape.boxCount {
                for j in 0..<read { tally(R.load(base, box * width + j), into: &counts) }
            }
            return counts
        }
        return NonfiniteReport(entries: [
            .init(tensor: "y_true", counts: scan(yTrue)),
            .init(tensor: "y_pred", counts: scan(yPred)),
        ])
    }

    static func compact<R: ScalarReader>(
        _ reader: R.Type, gtOffsets: UnsafeRawPointer, scores: UnsafeRawPointer,
        predOffsets: UnsafeRawPointer, shape: BatchShape
    ) -> NonfiniteReport {
        func scan(_ base: UnsafeRawPointer, count: Int) -> NonfiniteReport.Counts {
            var counts = NonfiniteReport.Counts()
            for i in 0..<count { tally(R.load(base, i), into: &counts) }
            return counts
        }
        return NonfiniteReport(entries: [
            .init(tensor: "gt_offsets", counts: scan(gtOffsets, count: shape.boxCount * 4)),
            .init(tensor: "scores", counts: scan(scores, count: shape.boxCount * shape.classes)),
            .init(tensor: "pred_offsets", counts: scan(predOffsets, count: shape.boxCount * 4)),
        ])
    }

    @inline(__always)
    private static func tally(_ value: Double, into counts: inout NonfiniteReport.Counts) {
        if value.isNaN {
            counts.nan += 1
        } else if value == .infinity {
            counts.positiveInfinity += 1
        } else if value == -.infinity {
            counts.negativeInfinity += 1
        }
    }
}

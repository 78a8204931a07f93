/// Counts and locates the NaN and ±Inf values of a batch from the image where the streaming pass
/// stopped on one.
///
/// The streaming passes check their non-finite accumulators at the end of each image and stop
/// at the first image that saw one (`BatchSums.nonfiniteImage`): every image before it is finite
/// and none after it was read. The locator takes over there, in place of the loss: it reads
/// that image again (just read, so from cache) and the rest of the batch once, counts every
/// value the loss reads by tensor, by NaN/±Inf and by kind, and keeps the first
/// ``NonfiniteReport/placesPerTensor`` places of each tensor. A finite batch never gets here.
enum NonfiniteLocator {
    /// One tensor's tally as the scan goes.
    private struct Tally {
        var counts = NonfiniteReport.Counts()
        var kinds: [NonfiniteKind: Int] = [:]
        var places: [NonfinitePlace] = []

        mutating func add(
            _ value: NonfiniteValue, tensor: String, image: Int, anchor: Int, column: Int, kind: NonfiniteKind,
            classIndex: Int?, offset: Int?
        ) {
            counts.add(value)
            kinds[kind, default: 0] += 1
            guard places.count < NonfiniteReport.placesPerTensor else { return }
            places.append(
                NonfinitePlace(
                    tensor: tensor, image: image, anchor: anchor, column: column, kind: kind, classIndex: classIndex,
                    offsetName: offset.map { NonfinitePlace.offsetNames[$0] }, value: value))
        }

        func entry(_ tensor: String) -> NonfiniteReport.Entry {
            .init(tensor: tensor, counts: counts, kinds: kinds, places: places)
        }
    }

    /// The `keras` layout: the C class entries (kind `gt_class` in `y_true`, `class_score` in
    /// `y_pred`) and the 4 offsets of each box, from image `firstImage` on.
    static func keras<R: ScalarReader>(
        _ reader: R.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer, shape: BatchShape, from firstImage: Int
    ) -> NonfiniteReport {
        let classes = shape.classes
        let width = shape.kerasWidth
        func scan(
            _ base: UnsafeRawPointer, tensor: String, classKind: NonfiniteKind, offsetKind: NonfiniteKind
        )
            -> NonfiniteReport.Entry
        {
            var tally = Tally()
            for image in firstImage..<shape.batch {
                for anchor in 0..<shape.boxes {
                    let row = (image &* shape.boxes &+ anchor) &* width
                    for column in 0..<(classes + 4) {
                        let loaded = R.load(base, row &+ column)
                        guard !loaded.isFinite, let value = NonfiniteValue(loaded) else { continue }
                        let isClass = column < classes
                        tally.add(
                            value, tensor: tensor, image: image, anchor: anchor, column: column,
                            kind: isClass ? classKind : offsetKind, classIndex: isClass ? column : nil,
                            offset: isClass ? nil : column - classes)
                    }
                }
            }
            return tally.entry(tensor)
        }
        return NonfiniteReport(entries: [
            scan(yTrue, tensor: "y_true", classKind: .groundTruthClass, offsetKind: .groundTruthOffset),
            scan(yPred, tensor: "y_pred", classKind: .classScore, offsetKind: .predictedOffset),
        ])
    }

    /// The `compact` layout: every value of `gt_offsets`, `scores` and `pred_offsets`, from image
    /// `firstImage` on.
    static func compact<R: ScalarReader>(
        _ reader: R.Type, gtOffsets: UnsafeRawPointer, scores: UnsafeRawPointer,
        predOffsets: UnsafeRawPointer, shape: BatchShape, from firstImage: Int
    ) -> NonfiniteReport {
        func scan(_ base: UnsafeRawPointer, tensor: String, columns: Int, kind: NonfiniteKind) -> NonfiniteReport.Entry
        {
            var tally = Tally()
            for image in firstImage..<shape.batch {
                for anchor in 0..<shape.boxes {
                    let row = (image &* shape.boxes &+ anchor) &* columns
                    for column in 0..<columns {
                        let loaded = R.load(base, row &+ column)
                        guard !loaded.isFinite, let value = NonfiniteValue(loaded) else { continue }
                        tally.add(
                            value, tensor: tensor, image: image, anchor: anchor, column: column, kind: kind,
                            classIndex: kind == .classScore ? column : nil, offset: kind == .classScore ? nil : column)
                    }
                }
            }
            return tally.entry(tensor)
        }
        return NonfiniteReport(entries: [
            scan(gtOffsets, tensor: "gt_offsets", columns: 4, kind: .groundTruthOffset),
            scan(scores, tensor: "scores", columns: shape.classes, kind: .classScore),
            scan(predOffsets, tensor: "pred_offsets", columns: 4, kind: .predictedOffset),
        ])
    }
}

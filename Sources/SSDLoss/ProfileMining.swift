extension MultiBoxLoss {
    /// Mining and the final reduction of the profiles other than keras (docs/LOSSES.md).
    ///
    /// All three mine each image alone and sum the losses of its `min(ratio·⌊n_pos⌋, n_nonzero)`
    /// hardest negatives, exactly as image mining does; what differs is the count of negatives
    /// the framework takes (which may include zero-loss negatives), the positives torchvision
    /// counts a second time, and the normaliser. None multiplies by B: `per_item` is each
    /// image's share of the loss and `loss` is their sum.
    func mineByProfile(
        _ sums: BatchSums, shape: BatchShape, workspace: LossWorkspace, input: LossInput, dtype: ScalarType
    ) -> LossResult {
        let images = shape.batch
        let ratio = Double(parameters.negPosRatio)
        var classPerItem = Array(repeating: 0.0, count: images)
        var negatives = 0
        let entryEnds = sums.entryEnds
        var start = 0
        var entry = 0
        for image in 0..<images {
            let end = sums.segmentEnds[image]
            let available = end - start
            let positives = sums.positives[image].rounded(.down)
            let k = negativesToKeep(positives: sums.positives[image], available: available)
            var classLoss =
                sums.classPositive[image]
                + HardNegativeMiner.keptClassLoss(workspace, entries: entry..<entryEnds[image], k: k)
            // The negatives the framework's own selection takes, zero-loss ones included.
            let wanted = ratio * positives
            switch parameters.profile {
            case .torchvision:
                // k = ratio × positives, uncapped: past the image's non-zero negatives it takes
                // zero-loss negatives, then positives (whose loss it set to −∞) a second time.
                if wanted > Double(available) {
                    let boxes = ImageBoxes(input, shape: shape, dtype: dtype, scores: parameters.scores, image: image)
                    let taken = Int(min(wanted, Double(boxes.boxes.count)))
                    if taken > boxes.negatives { classLoss += Self.positivesTakenAgain(boxes, taken: taken) }
                    negatives += taken
                } else {
                    negatives += k
                }
            case .mmdet:
                // k capped at the image's negatives: every box that is not positive, zero-loss
                // ones and ignored ones (mmdet's weight-0 anchors keep the background label) included.
                negatives += Int(min(wanted, max(0, Double(shape.boxes) - positives)))
            case .ssdPytorch, .keras:
                // k = min(ratio × positives, N − 1) of the boxes ranked by loss with positives at 0;
                // the count is of the negatives whose loss is not zero (the rest add nothing).
                negatives += k
            }
            classPerItem[image] = classLoss
            start = end
            entry = entryEnds[image]
        }
        let divisor: Double
        switch parameters.profile {
        case .mmdet: divisor = sums.positives.reduce(0) { $0 + max(1, $1) }
        case .torchvision, .ssdPytorch, .keras: divisor = max(1, sums.positives.reduce(0, +))
        }
        var perItem = Array(repeating: 0.0, count: images)
        var classification = 0.0
        var localization = 0.0
        for image in 0..<images {
            perItem[image] = (classPerItem[image] + parameters.alpha * sums.localization[image]) / divisor
            classification += classPerItem[image]
            localization += sums.localization[image]
        }
        classification /= divisor
        localization /= divisor
        return LossResult(
            perItem: perItem, classPerItem: classPerItem, locPerItem: sums.localization,
            loss: perItem.reduce(0, +), classification: classification, localization: localization,
            positives: sums.positives.reduce(0, +), negatives: negatives,
            negativesAvailable: sums.segmentEnds.last ?? 0, normalizer: divisor)
    }

    /// `sum cl` of the positives among the first `taken` boxes of torchvision's sort: every
    /// negative first (finite losses), then the positives (−∞) in the order PyTorch's CPU sort
    /// leaves them (``TorchSortOrder``), compared on the losses rounded to float32 as PyTorch holds them.
    static func positivesTakenAgain(_ image: ImageBoxes, taken: Int) -> Double {
        if taken >= image.boxes.count {
            return image.boxes.reduce(0) { $0 + ($1.positive ? $1.cl : 0) }
        }
        let values = image.boxes.map { $0.positive ? -Float.infinity : Float($0.cl) }
        let order = TorchSortOrder.descending(values)
        var sum = 0.0
        for index in order[..<taken] where image.boxes[index].positive { sum += image.boxes[index].cl }
        return sum
    }
}

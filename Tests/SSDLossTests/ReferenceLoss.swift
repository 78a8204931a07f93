import Foundation
import SSDLoss

/// SPEC §1 written as plainly as possible (a full sort for the mining), to check the kernel against.
func referenceLoss(_ batch: KerasBatch, _ parameters: LossParameters) -> LossResult {
    let shape = batch.shape
    let c = shape.classes
    var cl = [Double](), ll = [Double](), neg = [Double](), pos = [Double]()
    for box in 0..<shape.boxCount {
        let t = (0..<(c + 4)).map { batch.yTrue[batch.index(box: box, $0)] }
        let p = (0..<(c + 4)).map { batch.yPred[batch.index(box: box, $0)] }
        var logP: [Double]
        switch parameters.scores {
        case .probabilities:
            logP = p[0..<c].map { Foundation.log(max($0, 1e-15)) }
        case .logits:
            let top = p[0..<c].max() ?? 0
            let s = p[0..<c].map { Foundation.exp($0 - top) }.reduce(0, +)
            logP = p[0..<c].map { ($0 - top) - Foundation.log(s) }
        }
        cl.append(-(0..<c).reduce(0.0) { $0 + (t[$1] == 0 ? 0 : t[$1] * logP[$1]) })
        ll.append(
            (0..<4).reduce(0.0) { sum, j in
                let d = t[c + j] - p[c + j]
                return sum + (abs(d) < 1 ? 0.5 * d * d : abs(d) - 0.5)
            })
        neg.append(t[0])
        pos.append(t[1..<c].max() ?? 0)
    }
    let nl = zip(cl, neg).map { $1 == 0 ? 0 : $0 * $1 }
    var keep = [Bool](repeating: false, count: shape.boxCount)
    func mine(_ boxes: Range<Int>) -> Int {
        let nPos = boxes.reduce(0.0) { $0 + pos[$1] }
        let candidates = boxes.filter { nl[$0] != 0 }
        let wanted = max(parameters.negPosRatio * Int(nPos.rounded(.down)), parameters.nNegMin)
        let k = min(wanted, candidates.count)
        let order = candidates.sorted { nl[$0] != nl[$1] ? nl[$0] > nl[$1] : $0 < $1 }
        for i in order.prefix(k) { keep[i] = true }
        return k
    }
    var negatives = 0
    switch parameters.mining {
    case .batch: negatives = mine(0..<shape.boxCount)
    case .image:
        for b in 0..<shape.batch { negatives += mine((b * shape.boxes)..<((b + 1) * shape.boxes)) }
    }
    let nPos = pos.reduce(0, +)
    let divisor = max(1, nPos)
    var classPerItem = [Double](), locPerItem = [Double](), perItem = [Double]()
    for b in 0..<shape.batch {
        let boxes = (b * shape.boxes)..<((b + 1) * shape.boxes)
        let classLoss = boxes.reduce(0.0) { $0 + cl[$1] * pos[$1] + (keep[$1] ? cl[$1] : 0) }
        let locLoss = boxes.reduce(0.0) { $0 + ll[$1] * pos[$1] }
        classPerItem.append(classLoss)
        locPerItem.append(locLoss)
        perItem.append((classLoss + parameters.alpha * locLoss) / divisor * Double(shape.batch))
    }
    return LossResult(
        perItem: perItem, classPerItem: classPerItem, locPerItem: locPerItem,
        loss: perItem.reduce(0, +) / Double(shape.batch),
        classification: classPerItem.reduce(0, +) / divisor,
        localization: locPerItem.reduce(0, +) / divisor,
        positives: nPos, negatives: negatives, negativesAvailable: nl.filter { $0 != 0 }.count)
}

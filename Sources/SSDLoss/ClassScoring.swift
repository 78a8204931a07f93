#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The classification loss of one box, for one ``ScoreKind``.
///
/// Conformers are caseless enums; the streaming pass is generic over them so each score kind gets
/// its own specialized loop. Every function also ORs a ``nonfiniteMark(_:)`` of each value it
/// reads into `marks`, so non-finite detection costs no extra pass over the bytes.
protocol ClassScoring {
    /// Whether the class entries are logits (a log-softmax) rather than probabilities.
    static var usesLogits: Bool { get }

    /// `cl`, `neg = t[0]` and `pos = max(t[1..C-1])` of the keras-layout box whose class entries
    /// start at element `row` of `yTrue` and `yPred`.
    ///
    /// Terms with `t[k] == 0` contribute exactly 0 and take no logarithm.
    static func kerasClassLoss<R: ScalarReader>(
        _ reader: R.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer, row: Int, classes: Int,
        marks: inout UInt64
    ) -> (cl: Double, neg: Double, pos: Double)

    /// `cl` of the compact-layout box whose scores start at element `row`, labelled `label`
    /// (0…C−1), or 0 when `label` is −1 (ignored). Reads every score of the box.
    static func compactClassLoss<R: ScalarReader>(
        _ reader: R.Type, scores: UnsafeRawPointer, row: Int, classes: Int, label: Int,
        marks: inout UInt64
    ) -> Double
}

/// `scores = "probabilities"`: `cl = -sum_k t[k] * log(max(p[k], 1e-15))`.
enum ProbabilityScoring: ClassScoring {
    static var usesLogits: Bool { false }

    /// The clip below which a probability is not trusted.
    static let floor = 1e-15

    @inline(__always)
    static func kerasClassLoss<R: ScalarReader>(
        _ reader: R.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer, row: Int, classes: Int,
        marks: inout UInt64
    ) -> (cl: Double, neg: Double, pos: Double) {
        let t0 = R.load(yTrue, row)
        let p0 = R.load(yPred, row)
        var m = nonfiniteMark(t0) | nonfiniteMark(p0)
        var cl = t0 != 0 ? -t0 * log(max(p0, floor)) : 0
        var pos = R.load(yTrue, row &+ 1)
        for k in 1..<classes {
            let t = R.load(yTrue, row &+ k)
            let p = R.load(yPred, row &+ k)
            m |= nonfiniteMark(t) | nonfiniteMark(p)
            if t != 0 { cl -= t * log(max(p, floor)) }
            pos = max(pos, t)
        }
        marks |= m
        return (cl, t0, pos)
    }

    @inline(__always)
    static func compactClassLoss<R: ScalarReader>(
        _ reader: R.Type, scores: UnsafeRawPointer, row: Int, classes: Int, label: Int,
        marks: inout UInt64
    ) -> Double {
        var m: UInt64 = 0
        for k in 0..<classes {
            m |= nonfiniteMark(R.load(scores, row &+ k))
        }
        marks |= m
        guard label >= 0 else { return 0 }
        return -log(max(R.load(scores, row &+ label), floor))
    }
}

/// `scores = "logits"`: `cl = -sum_k t[k] * log_softmax(p)[k]`, computed stably with no clip.
///
/// `log_softmax(p)[k] = (p[k] - max p) - log(sum_j exp(p[j] - max p))`: the subtraction comes
/// first so logits of any finite magnitude (±1e300 in float64) stay finite.
enum LogitScoring: ClassScoring {
    static var usesLogits: Bool { true }

    @inline(__always)
    static func kerasClassLoss<R: ScalarReader>(
        _ reader: R.Type, yTrue: UnsafeRawPointer, yPred: UnsafeRawPointer, row: Int, classes: Int,
        marks: inout UInt64
    ) -> (cl: Double, neg: Double, pos: Double) {
        let t0 = R.load(yTrue, row)
        var m = nonfiniteMark(t0)
        var any = t0 != 0
        var pos = R.load(yTrue, row &+ 1)
        for k in 1..<classes {
            let t = R.load(yTrue, row &+ k)
            m |= nonfiniteMark(t)
            any = any || t != 0
            pos = max(pos, t)
        }
        var top = R.load(yPred, row)
        m |= nonfiniteMark(top)
        for k in 1..<classes {
            let p = R.load(yPred, row &+ k)
            m |= nonfiniteMark(p)
            top = max(top, p)
        }
        marks |= m
        guard any, !sawNonfinite(m) else { return (0, t0, pos) }
        let lse = logSumExp(reader, yPred, row: row, classes: classes, top: top)
        var cl = 0.0
        for k in 0..<classes {
            let t = R.load(yTrue, row &+ k)
            if t != 0 { cl -= t * ((R.load(yPred, row &+ k) - top) - lse) }
        }
        return (cl, t0, pos)
    }

    @inline(__always)
    static func compactClassLoss<R: ScalarReader>(
        _ reader: R.Type, scores: UnsafeRawPointer, row: Int, classes: Int, label: Int,
        marks: inout UInt64
    ) -> Double {
        var top = R.load(scores, row)
        var m = nonfiniteMark(top)
        for k in 1..<classes {
            let p = R.load(scores, row &+ k)
            m |= nonfiniteMark(p)
            top = max(top, p)
        }
        marks |= m
        guard label >= 0, !sawNonfinite(m) else { return 0 }
        let lse = logSumExp(reader, scores, row: row, classes: classes, top: top)
        return -((R.load(scores, row &+ label) - top) - lse)
    }

    /// `log(sum_k exp(p[k] - top))`, where `top` is the largest of the box's logits.
    @inline(__always)
    static func logSumExp<R: ScalarReader>(
        _ reader: R.Type, _ base: UnsafeRawPointer, row: Int, classes: Int, top: Double
    ) -> Double {
        var sum = 0.0
        for k in 0..<classes {
            sum += exp(R.load(base, row &+ k) - top)
        }
        return log(sum)
    }
}

/// `sum_j smoothL1(truth[j] - prediction[j])` over the 4 box offsets starting at the given elements.
///
/// `smoothL1(d) = 0.5 d²` if `|d| < 1`, else `|d| - 0.5`.
@inline(__always)
func localizationLoss<R: ScalarReader>(
    _ reader: R.Type, truth: UnsafeRawPointer, truthRow: Int,
    prediction: UnsafeRawPointer, predictionRow: Int, marks: inout UInt64
) -> Double {
    var ll = 0.0
    var m: UInt64 = 0
    for j in 0..<4 {
        let g = R.load(truth, truthRow &+ j)
        let p = R.load(prediction, predictionRow &+ j)
        m |= nonfiniteMark(g) | nonfiniteMark(p)
        let d = g - p
        let a = abs(d)
        ll += a < 1 ? 0.5 * d * d : a - 0.5
    }
    marks |= m
    return ll
}

import Foundation
import Testing

@testable import SSDLoss

/// The per-batch diagnostics: equal to an independent computation over every golden case, on
/// every kernel path and the scalar reference pass, in both layouts.
@Suite("Batch diagnostics")
struct DiagnosticsTests {
    /// The diagnostics of a keras batch computed plainly from its values (SPEC §1's per-box
    /// terms; the class of a positive is the first largest of t[1..C-1]).
    static func independent(_ batch: KerasBatch, scores: ScoreKind) -> BatchDiagnostics {
        let shape = batch.shape
        let c = shape.classes
        var perImage = [Double](repeating: 0, count: shape.batch)
        var positives = [Double](repeating: 0, count: c)
        var sums = [Double](repeating: 0, count: c)
        for box in 0..<shape.boxCount {
            let t = (0..<c).map { batch.yTrue[batch.index(box: box, $0)] }
            let p = (0..<c).map { batch.yPred[batch.index(box: box, $0)] }
            let pos = t[1...].max() ?? 0
            guard pos != 0 else { continue }
            let logP: [Double]
            switch scores {
            case .probabilities: logP = p.map { Foundation.log(max($0, 1e-15)) }
            case .logits:
                let top = p.max() ?? 0
                let s = p.map { Foundation.exp($0 - top) }.reduce(0, +)
                logP = p.map { ($0 - top) - Foundation.log(s) }
            }
            let cl = -(0..<c).reduce(0.0) { $0 + (t[$1] == 0 ? 0 : t[$1] * logP[$1]) }
            let k = (1..<c).first { t[$0] == pos } ?? 1
            positives[k] += pos
            sums[k] += cl * pos
            perImage[box / shape.boxes] += pos
        }
        return BatchDiagnostics(
            imagesWithoutPositives: perImage.filter { $0 == 0 }.count,
            maxPositiveShare: (perImage.max() ?? 0) / Double(shape.boxes),
            classes: (1..<c).filter { positives[$0] != 0 }.map {
                .init(classIndex: $0, positives: positives[$0], classificationSum: sums[$0])
            })
    }

    /// Whether two diagnostics agree: counts and classes exactly, figures within `tolerance`.
    static func agree(_ a: BatchDiagnostics?, _ b: BatchDiagnostics, tolerance: Double = 1e-6) -> Bool {
        guard let a else { return false }
        return a.imagesWithoutPositives == b.imagesWithoutPositives
            && isClose(a.maxPositiveShare, b.maxPositiveShare, tolerance: 1e-12)
            && a.classes.map(\.classIndex) == b.classes.map(\.classIndex)
            && zip(a.classes, b.classes).allSatisfy {
                isClose($0.positives, $1.positives, tolerance: 1e-9)
                    && isClose($0.classificationSum, $1.classificationSum, tolerance: tolerance)
            }
    }

    /// The vectorized paths this CPU runs, then the scalar reference pass (nil).
    static let paths: [KernelPath?] = KernelPath.allCases.filter(\.isSupported) + [nil]

    @Test("keras: every path equals the independent computation", arguments: GoldenCase.names)
    func kerasGolden(_ name: String) throws {
        let golden = try GoldenCase.load(name)
        let (t, p) = try golden.tensors()
        let values = try golden.batchValues()
        let expected = Self.independent(values, scores: golden.params.scores)
        var results: [LossResult] = []
        for path in Self.paths {
            let result = try KerasBatch(shape: golden.shape).compute(
                golden.params, dtype: golden.dtype, yTrue: t, yPred: p, path: path ?? .baseline, scalar: path == nil)
            #expect(Self.agree(result.diagnostics, expected), "\(name) on \(path.map(\.rawValue) ?? "scalar")")
            results.append(result)
        }
        // Across paths: the same classes and positives exactly, the sums within 1e-6.
        for result in results.dropFirst() {
            #expect(result.diagnostics?.classes.map(\.positives) == results[0].diagnostics?.classes.map(\.positives))
            if let first = results[0].diagnostics { #expect(Self.agree(result.diagnostics, first)) }
        }
        // The classes add up to the batch's positives.
        let total = results[0].diagnostics?.classes.reduce(0) { $0 + $1.positives } ?? -1
        #expect(isClose(total, results[0].positives, tolerance: 1e-9))
    }

    @Test("compact: the same diagnostics as the equivalent one-hot keras batch", arguments: GoldenCase.names)
    func compactGolden(_ name: String) throws {
        let golden = try GoldenCase.load(name)
        let values = try golden.batchValues()
        let c = golden.classes
        var labels: [Int32] = []
        for box in 0..<golden.shape.boxCount {
            let t = (0..<c).map { values.yTrue[values.index(box: box, $0)] }
            let ones = t.filter { $0 == 1 }.count
            let zeros = t.filter { $0 == 0 && $0.sign == .plus }.count
            guard ones + zeros == c, ones <= 1 else { return }  // not one-hot: no compact equivalent
            labels.append(Int32(t.firstIndex(of: 1) ?? -1))
        }
        let compact = CompactBatch(values, labels: labels)
        let expected = Self.independent(values, scores: golden.params.scores)
        for path in Self.paths {
            let result = try compact.loss(
                golden.params, dtype: golden.dtype, path: path ?? .baseline, scalar: path == nil)
            #expect(Self.agree(result.diagnostics, expected), "\(name) on \(path.map(\.rawValue) ?? "scalar")")
        }
    }

    @Test("soft labels: a positive goes to its largest target, with its fractional weight")
    func softLabels() throws {
        let shape = BatchShape(batch: 2, boxes: 3, classes: 4)
        var batch = KerasBatch(shape: shape)
        for box in 0..<shape.boxCount {
            for k in 0..<4 { batch.yPred[batch.index(box: box, k)] = 0.25 }
            batch.yTrue[batch.index(box: box, 0)] = 1
        }
        // Box 1: 0.6 of class 2, 0.3 of class 3, 0.1 background; box 4: a tie of classes 1 and 3.
        for (k, t) in [(0, 0.1), (1, 0.0), (2, 0.6), (3, 0.3)] { batch.yTrue[batch.index(box: 1, k)] = t }
        for (k, t) in [(0, 0.0), (1, 0.5), (2, 0.0), (3, 0.5)] { batch.yTrue[batch.index(box: 4, k)] = t }
        for path in Self.paths {
            let result = try batch.compute(
                LossParameters(), dtype: .float64, yTrue: encode(batch.yTrue, as: .float64),
                yPred: encode(batch.yPred, as: .float64), path: path ?? .baseline, scalar: path == nil)
            let diagnostics = try #require(result.diagnostics)
            #expect(diagnostics.imagesWithoutPositives == 0)
            #expect(diagnostics.maxPositiveShare == 0.6 / 3)
            #expect(diagnostics.classes.map(\.classIndex) == [1, 2])
            #expect(diagnostics.classes.map(\.positives) == [0.5, 0.6])
            // cl = -Σ t log 0.25 = log 4 for both boxes (their targets sum to 1).
            #expect(isClose(diagnostics.classes[0].classificationSum, 0.5 * log(4), tolerance: 1e-12))
            #expect(isClose(diagnostics.classes[1].classificationSum, 0.6 * log(4), tolerance: 1e-12))
        }
    }

    @Test("off, the result has no diagnostics and the same loss")
    func off() throws {
        let (batch, _) = KerasBatch.random(shape: BatchShape(batch: 2, boxes: 40, classes: 5), seed: 9)
        let (t, p) = (encode(batch.yTrue, as: .float32), encode(batch.yPred, as: .float32))
        var kernel = MultiBoxLoss()
        let on = try t.withUnsafeBytes { tb in
            try p.withUnsafeBytes { pb in
                try kernel.compute(.keras(yTrue: tb, yPred: pb), shape: batch.shape, dtype: .float32)
            }
        }
        kernel.collectsDiagnostics = false
        let off = try t.withUnsafeBytes { tb in
            try p.withUnsafeBytes { pb in
                try kernel.compute(.keras(yTrue: tb, yPred: pb), shape: batch.shape, dtype: .float32)
            }
        }
        #expect(on.diagnostics != nil && off.diagnostics == nil)
        var stripped = on
        stripped.diagnostics = nil
        #expect(stripped == off)
    }
}

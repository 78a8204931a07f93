import Foundation

@testable import SSDLoss

/// A deterministic pseudo-random generator (SplitMix64), so every test input is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Encodes values as little-endian bytes of `dtype` (rounding to nearest).
func encode(_ values: [Double], as dtype: ScalarType) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(values.count * dtype.byteWidth)
    func append<T: FixedWidthInteger>(_ bits: T) {
        withUnsafeBytes(of: bits.littleEndian) { bytes.append(contentsOf: $0) }
    }
    for value in values {
        switch dtype {
        case .float32: append(Float(value).bitPattern)
        case .float16: append(Float16(value).bitPattern)
        case .bfloat16:
            let bits = Float(value).bitPattern
            let rounded = bits.isNaN ? bits : bits &+ 0x7FFF &+ ((bits >> 16) & 1)
            append(UInt16(truncatingIfNeeded: rounded >> 16))
        case .float64: append(value.bitPattern)
        }
    }
    return bytes
}

private extension UInt32 {
    /// Whether these float32 bits are a NaN (so rounding must not turn it into an infinity).
    var isNaN: Bool { self & 0x7F80_0000 == 0x7F80_0000 && self & 0x007F_FFFF != 0 }
}

/// Decodes little-endian bytes of `dtype` into doubles.
func decode(_ bytes: some Collection<UInt8>, as dtype: ScalarType) -> [Double] {
    let raw = Array(bytes)
    let width = dtype.byteWidth
    return (0..<(raw.count / width)).map { i in
        var bits: UInt64 = 0
        for j in 0..<width { bits |= UInt64(raw[i * width + j]) << (8 * UInt64(j)) }
        switch dtype {
        case .float32: return Double(Float(bitPattern: UInt32(bits)))
        case .float16: return Double(Float16(bitPattern: UInt16(bits)))
        case .bfloat16: return Double(Float(bitPattern: UInt32(bits) << 16))
        case .float64: return Double(bitPattern: bits)
        }
    }
}

/// The values `dtype` would carry for `values`, read back as doubles.
func roundTrip(_ values: [Double], through dtype: ScalarType) -> [Double] {
    decode(encode(values, as: dtype), as: dtype)
}

/// A keras-layout batch held as doubles: `y_true` and `y_pred`, each `[B, N, C + 12]`.
struct KerasBatch {
    var shape: BatchShape
    var yTrue: [Double]
    var yPred: [Double]

    init(shape: BatchShape, yTrue: [Double], yPred: [Double]) {
        self.shape = shape
        self.yTrue = yTrue
        self.yPred = yPred
    }

    /// A zero batch of the given shape.
    init(shape: BatchShape) {
        let count = shape.boxCount * shape.kerasWidth
        self.init(shape: shape, yTrue: Array(repeating: 0, count: count), yPred: Array(repeating: 0, count: count))
    }

    /// Element index of entry `j` of box `box` (flat `b * N + n`).
    func index(box: Int, _ j: Int) -> Int { box * shape.kerasWidth + j }

    /// A random one-hot batch. `labels` (−1, 0, 1…C−1) come from `label(rng)`; predictions are
    /// softmax probabilities, or raw logits in ±`logitScale` when `logits` is set.
    static func random(
        shape: BatchShape, seed: UInt64, logits: Bool = false, logitScale: Double = 8,
        label: (inout SplitMix64) -> Int32 = { rng in
            let u = Double.random(in: 0..<1, using: &rng)
            return u < 0.1 ? -1 : (u < 0.8 ? 0 : Int32.random(in: 1...3, using: &rng))
        }
    ) -> (batch: KerasBatch, labels: [Int32]) {
        var rng = SplitMix64(seed: seed)
        var batch = KerasBatch(shape: shape)
        var labels: [Int32] = []
        let c = shape.classes
        for box in 0..<shape.boxCount {
            let l = min(label(&rng), Int32(c - 1))
            labels.append(l)
            if l >= 0 { batch.yTrue[batch.index(box: box, Int(l))] = 1 }
            let raw = (0..<c).map { _ in Double.random(in: -logitScale...logitScale, using: &rng) }
            if logits {
                for k in 0..<c { batch.yPred[batch.index(box: box, k)] = raw[k] }
            } else {
                let top = raw.max() ?? 0
                let e = raw.map { Foundation.exp($0 - top) }
                let s = e.reduce(0, +)
                for k in 0..<c { batch.yPred[batch.index(box: box, k)] = e[k] / s }
            }
            for j in 0..<4 {
                batch.yTrue[batch.index(box: box, c + j)] = Double.random(in: -2...2, using: &rng)
                batch.yPred[batch.index(box: box, c + j)] = Double.random(in: -2...2, using: &rng)
            }
            for j in 4..<12 {
                batch.yTrue[batch.index(box: box, c + j)] = Double.random(in: -9...9, using: &rng)
                batch.yPred[batch.index(box: box, c + j)] = Double.random(in: -9...9, using: &rng)
            }
        }
        return (batch, labels)
    }

    /// The loss of this batch sent as `dtype`, on the process's kernel path unless told.
    func loss(
        _ parameters: LossParameters, dtype: ScalarType = .float64, workspace: LossWorkspace? = nil,
        path: KernelPath = .active
    ) throws(LossError) -> LossResult {
        let t = encode(yTrue, as: dtype)
        let p = encode(yPred, as: dtype)
        return try compute(parameters, dtype: dtype, yTrue: t, yPred: p, workspace: workspace, path: path)
    }

    /// The loss of this batch in float64 by the generic scalar pass, which computes every loss
    /// exactly, value by value: the reference the vectorized passes are checked against.
    func scalarReference(_ parameters: LossParameters) throws(LossError) -> LossResult {
        let t = encode(yTrue, as: .float64)
        let p = encode(yPred, as: .float64)
        return try compute(parameters, dtype: .float64, yTrue: t, yPred: p, scalar: true)
    }

    /// The loss of raw keras byte tensors.
    func compute(
        _ parameters: LossParameters, dtype: ScalarType, yTrue t: [UInt8], yPred p: [UInt8],
        workspace: LossWorkspace? = nil, path: KernelPath = .active, scalar: Bool = false
    ) throws(LossError) -> LossResult {
        var kernel = MultiBoxLoss(parameters: parameters, path: path)
        kernel.usesScalarPass = scalar
        let result: Result<LossResult, LossError> = t.withUnsafeBytes { tb in
            p.withUnsafeBytes { pb in
                Result { () throws(LossError) -> LossResult in
                    try kernel.compute(.keras(yTrue: tb, yPred: pb), shape: shape, dtype: dtype, workspace: workspace)
                }
            }
        }
        return try result.get()
    }

    /// Image `b` alone, as a batch of one.
    func image(_ b: Int) -> KerasBatch {
        let per = shape.boxes * shape.kerasWidth
        return KerasBatch(
            shape: BatchShape(batch: 1, boxes: shape.boxes, classes: shape.classes),
            yTrue: Array(yTrue[(b * per)..<((b + 1) * per)]),
            yPred: Array(yPred[(b * per)..<((b + 1) * per)]))
    }
}

/// A compact-layout batch: labels plus offsets and scores, held as doubles.
struct CompactBatch {
    var shape: BatchShape
    var labels: [Int32]
    var gtOffsets: [Double]
    var scores: [Double]
    var predOffsets: [Double]

    /// The compact equivalent of a one-hot keras batch whose labels are known.
    init(_ keras: KerasBatch, labels: [Int32]) {
        shape = keras.shape
        self.labels = labels
        gtOffsets = []
        scores = []
        predOffsets = []
        let c = shape.classes
        for box in 0..<shape.boxCount {
            for j in 0..<4 {
                gtOffsets.append(keras.yTrue[keras.index(box: box, c + j)])
                predOffsets.append(keras.yPred[keras.index(box: box, c + j)])
            }
            for k in 0..<c { scores.append(keras.yPred[keras.index(box: box, k)]) }
        }
    }

    /// The loss of this batch sent as `dtype`, on the process's kernel path unless told.
    func loss(
        _ parameters: LossParameters, dtype: ScalarType = .float64, path: KernelPath = .active, scalar: Bool = false
    ) throws(LossError) -> LossResult {
        var kernel = MultiBoxLoss(parameters: parameters, path: path)
        kernel.usesScalarPass = scalar
        let l = labels.flatMap { label in withUnsafeBytes(of: label.littleEndian) { Array($0) } }
        let g = encode(gtOffsets, as: dtype)
        let s = encode(scores, as: dtype)
        let q = encode(predOffsets, as: dtype)
        let result: Result<LossResult, LossError> = l.withUnsafeBytes { lb in
            g.withUnsafeBytes { gb in
                s.withUnsafeBytes { sb in
                    q.withUnsafeBytes { qb in
                        Result { () throws(LossError) -> LossResult in
                            try kernel.compute(
                                .compact(labels: lb, gtOffsets: gb, scores: sb, predOffsets: qb),
                                shape: shape, dtype: dtype)
                        }
                    }
                }
            }
        }
        return try result.get()
    }
}

/// Whether `actual` is within 1e-4 relative of `expected` (1e-4 absolute near zero).
func isClose(_ actual: Double, _ expected: Double, tolerance: Double = 1e-4) -> Bool {
    abs(actual - expected) <= max(tolerance * abs(expected), tolerance)
}

/// Whether two results agree: values within `tolerance`, counts exactly.
func agree(_ a: LossResult, _ b: LossResult, tolerance: Double = 1e-9) -> Bool {
    a.negatives == b.negatives && a.negativesAvailable == b.negativesAvailable
        && isClose(a.positives, b.positives, tolerance: tolerance)
        && isClose(a.loss, b.loss, tolerance: tolerance)
        && isClose(a.classification, b.classification, tolerance: tolerance)
        && isClose(a.localization, b.localization, tolerance: tolerance)
        && a.perItem.count == b.perItem.count
        && zip(a.perItem, b.perItem).allSatisfy { isClose($0, $1, tolerance: tolerance) }
        && zip(a.classPerItem, b.classPerItem).allSatisfy { isClose($0, $1, tolerance: tolerance) }
        && zip(a.locPerItem, b.locPerItem).allSatisfy { isClose($0, $1, tolerance: tolerance) }
}

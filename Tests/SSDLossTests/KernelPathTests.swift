import Foundation
import Testing

@testable import SSDLoss

/// The two compiled copies of the vectorized passes: which one runs, and that they agree.
///
/// `make test` runs this target twice, the second time with `LOSSD_KERNEL=baseline`, so that
/// every golden and property test also runs on the baseline code; the first test here checks that
/// the environment really chose the code that ran.
@Suite("Kernel paths")
struct KernelPathTests {
    /// The paths this CPU can run: the baseline, and AVX2 where the CPU has it.
    static let supported = KernelPath.allCases.filter(\.isSupported)

    @Test("the kernel runs the path the environment chose")
    func activePathRuns() throws {
        let requested = ProcessInfo.processInfo.environment[KernelPath.environmentVariable]
        if requested == "baseline" {
            #expect(KernelPath.active == .baseline)
        } else {
            #expect(KernelPath.active == KernelPath.fastest)
        }
        let (batch, labels) = KerasBatch.random(shape: BatchShape(batch: 2, boxes: 50, classes: 9), seed: 2)
        let workspace = LossWorkspace()
        _ = try batch.loss(LossParameters(), dtype: .float32, workspace: workspace)
        #expect(workspace.lastPath == KernelPath.active)
        _ = try CompactBatch(batch, labels: labels).loss(LossParameters(scores: .logits))
        #expect(workspace.lastPath == KernelPath.active)
    }

    @Test("each path reports the code that ran; an unsupported one runs the baseline", arguments: KernelPath.allCases)
    func pathsReportThemselves(_ path: KernelPath) throws {
        let (batch, _) = KerasBatch.random(shape: BatchShape(batch: 1, boxes: 40, classes: 5), seed: 3)
        let workspace = LossWorkspace()
        _ = try batch.loss(LossParameters(scores: .logits), dtype: .float16, workspace: workspace, path: path)
        #expect(workspace.lastPath == (path.isSupported ? path : .baseline))
    }

    @Test("the environment variable's values")
    func selection() {
        #expect(KernelPath.Selection(environment: nil, avx2Supported: true).path == .avx2)
        #expect(KernelPath.Selection(environment: "auto", avx2Supported: true).path == .avx2)
        #expect(KernelPath.Selection(environment: "Baseline", avx2Supported: true).path == .baseline)
        #expect(KernelPath.Selection(environment: "avx2", avx2Supported: false).path == .baseline)
        #expect(KernelPath.Selection(environment: nil, avx2Supported: false).path == .baseline)
        let unknown = KernelPath.Selection(environment: "sse9", avx2Supported: true)
        #expect(unknown.path == .avx2 && unknown.reason.contains("sse9") && unknown.reason.contains("ignored"))
    }

    @Test("both paths give the golden cases the same counts and losses within 1e-6", arguments: GoldenCase.names)
    func goldenAgree(_ name: String) throws {
        let golden = try GoldenCase.load(name)
        let (t, p) = try golden.tensors()
        let results = try Self.supported.map { path in
            try KerasBatch(shape: golden.shape).compute(
                golden.params, dtype: golden.dtype, yTrue: t, yPred: p, path: path)
        }
        for result in results.dropFirst() { #expect(agree(result, results[0], tolerance: 1e-6)) }
    }

    @Test(
        "both paths give every profile's golden cases the same counts and losses within 1e-6, in both layouts",
        arguments: ProfileGoldenCase.names)
    func profileGoldenAgree(_ name: String) throws {
        let golden = try ProfileGoldenCase.load(name)
        let compact = try golden.frames()
        let (t, p) = try golden.kerasTensors()
        for frames in [compact, [t, p]] {
            let results = try Self.supported.map { path in
                try ProfileTests.compute(
                    golden.profile.parameters, golden.shape, golden.dtype, frames: frames, path: path)
            }
            for result in results.dropFirst() { #expect(agree(result, results[0], tolerance: 1e-6), "\(name)") }
        }
    }

    /// The ratio of 60 makes mining keep most negatives, so that the logits pass takes the exact
    /// pass up front; `n_neg_min`, which these profiles do not have, must change nothing.
    @Test(
        "both paths agree under every profile's mining, logits and probabilities",
        arguments: [LossProfile.torchvision, .mmdet, .ssdPytorch], ScoreKind.allCases)
    func profilesAgree(_ profile: LossProfile, scores: ScoreKind) throws {
        for (ratio, minimum) in [(3, 0), (60, 0), (3, 10_000)] {
            var parameters = profile.parameters
            parameters.scores = scores
            parameters.negPosRatio = ratio
            parameters.nNegMin = minimum
            try checkPathsAgree(parameters)
        }
        var withMinimum = profile.parameters
        withMinimum.nNegMin = 10_000
        let (raw, labels) = KerasBatch.random(shape: BatchShape(batch: 2, boxes: 97, classes: 7), seed: 9, logits: true)
        let compact = CompactBatch(raw, labels: labels)
        #expect(agree(try compact.loss(withMinimum), try compact.loss(profile.parameters), tolerance: 0))
    }

    private func checkPathsAgree(_ parameters: LossParameters) throws {
        let scores = parameters.scores
        for dtype in ScalarType.allCases {
            for seed: UInt64 in 1...3 {
                let shape = BatchShape(batch: 3, boxes: 113, classes: [2, 21, 33][Int(seed) - 1])
                let (raw, labels) = KerasBatch.random(shape: shape, seed: seed, logits: scores == .logits)
                let batch = KerasBatch(
                    shape: shape, yTrue: roundTrip(raw.yTrue, through: dtype),
                    yPred: roundTrip(raw.yPred, through: dtype))
                let keras = try Self.supported.map { try batch.loss(parameters, dtype: dtype, path: $0) }
                let compact = try Self.supported.map {
                    try CompactBatch(batch, labels: labels).loss(parameters, dtype: dtype, path: $0)
                }
                for result in keras.dropFirst() {
                    #expect(agree(result, keras[0], tolerance: 1e-6), "\(dtype) \(parameters)")
                }
                for result in compact.dropFirst() {
                    #expect(agree(result, compact[0], tolerance: 1e-6), "\(dtype) \(parameters)")
                }
            }
        }
    }

    @Test(
        "both paths agree on every format, layout, score kind and mining mode",
        arguments: ScalarType.allCases,
        [
            LossParameters(nNegMin: 2), LossParameters(nNegMin: 2, scores: .logits),
            LossParameters(mining: .image), LossParameters(nNegMin: 150, mining: .image, scores: .logits),
        ])
    func propertiesAgree(_ dtype: ScalarType, parameters: LossParameters) throws {
        for seed: UInt64 in 1...3 {
            let shape = BatchShape(batch: 3, boxes: 113, classes: [2, 21, 33][Int(seed) - 1])
            let (raw, labels) = KerasBatch.random(shape: shape, seed: seed, logits: parameters.scores == .logits)
            let batch = KerasBatch(
                shape: shape, yTrue: roundTrip(raw.yTrue, through: dtype), yPred: roundTrip(raw.yPred, through: dtype))
            let keras = try Self.supported.map { try batch.loss(parameters, dtype: dtype, path: $0) }
            let compact = try Self.supported.map {
                try CompactBatch(batch, labels: labels).loss(parameters, dtype: dtype, path: $0)
            }
            for result in keras.dropFirst() { #expect(agree(result, keras[0], tolerance: 1e-6)) }
            for result in compact.dropFirst() { #expect(agree(result, compact[0], tolerance: 1e-6)) }
            #expect(agree(keras[0], compact[0], tolerance: 1e-6))
        }
    }

    @Test("the memory floor sums the same on both paths")
    func floorAgrees() {
        let values = (0..<10_001).map { Float($0 % 13) }
        let sums = values.withUnsafeBytes { bytes in Self.supported.map { MemoryFloor.streamSum([bytes], path: $0) } }
        #expect(sums.allSatisfy { $0 == Double(values.reduce(0, +)) })
    }
}

import Foundation
import Testing

@testable import SSDLoss

@Suite("Loss profiles: torchvision, mmdet and ssd.pytorch as their frameworks compute them")
struct ProfileTests {
    @Test(
        "every golden case of a profile, compact layout, within 1e-5 relative, counts exact",
        arguments: ProfileGoldenCase.names)
    func golden(_ name: String) throws {
        let golden = try ProfileGoldenCase.load(name)
        let f = try golden.frames()
        let result = try Self.compute(golden.profile.parameters, golden.shape, golden.dtype, frames: f)
        check(result, golden)
    }

    @Test(
        "the same cases in the keras layout (one-hot y_true) give the same numbers", arguments: ProfileGoldenCase.names)
    func goldenKeras(_ name: String) throws {
        let golden = try ProfileGoldenCase.load(name)
        let (t, p) = try golden.kerasTensors()
        let result = try Self.compute(golden.profile.parameters, golden.shape, golden.dtype, frames: [t, p])
        check(result, golden)
    }

    @Test("the fixture directory holds exactly the cases the tests name")
    func everyCaseNamed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: ProfileGoldenCase.directory.path)
        let cases = Set(files.filter { $0.hasSuffix(".bin") }.map { String($0.dropLast(4)) })
        #expect(cases == Set(ProfileGoldenCase.names))
    }

    @Test("TorchSortOrder leaves ties exactly where PyTorch's CPU sort leaves them")
    func torchSortOrder() throws {
        struct Fixture: Decodable {
            struct Case: Decodable {
                var values: [Double?]
                var order: [Int]
            }
            var cases: [Case]
        }
        let url = ProfileGoldenCase.directory.appendingPathComponent("torch-sort-order.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count >= 10)
        for sample in fixture.cases {
            let values = sample.values.map { $0.map(Float.init) ?? -.infinity }
            let order = TorchSortOrder.descending(values)
            #expect(order == sample.order, "n = \(values.count)")
        }
    }

    @Test("keras multiplies by B and averages; the other profiles sum per-image shares")
    func perItemConvention() throws {
        let golden = try ProfileGoldenCase.load("mmdet-random")
        let f = try golden.frames()
        for profile in LossProfile.allCases {
            var parameters = profile.parameters
            parameters.scores = .logits
            let result = try Self.compute(parameters, golden.shape, golden.dtype, frames: f)
            let total =
                profile == .keras ? result.perItem.reduce(0, +) / Double(golden.batch) : result.perItem.reduce(0, +)
            #expect(isClose(total, result.loss, tolerance: 1e-12), "\(profile)")
            #expect(isClose(result.classification + result.localization, result.loss, tolerance: 1e-12), "\(profile)")
        }
    }

    @Test("a batch without positives: finite and zero for every profile (ssd.pytorch itself gives NaN)")
    func noPositives() throws {
        let golden = try ProfileGoldenCase.load("torchvision-no-positives")
        let f = try golden.frames()
        for profile in LossProfile.allCases where profile != .keras {
            let result = try Self.compute(profile.parameters, golden.shape, golden.dtype, frames: f)
            #expect(result.loss == 0 && result.negatives == 0, "\(profile)")
        }
    }

    @Test("a profile refuses the settings its framework has no knob for, and takes the ratio")
    func refusals() {
        for profile in [LossProfile.torchvision, .mmdet, .ssdPytorch] {
            var parameters = profile.parameters
            #expect(profile.firstUnsupported(in: parameters) == nil)
            parameters.negPosRatio = 7
            #expect(profile.firstUnsupported(in: parameters) == nil)
            for (setting, change) in [
                (LossSetting.nNegMin, { (p: inout LossParameters) in p.nNegMin = 1 }),
                (.alpha, { $0.alpha = 2 }), (.mining, { $0.mining = .batch }),
                (.scores, { $0.scores = .probabilities }),
            ] {
                var changed = profile.parameters
                change(&changed)
                #expect(profile.firstUnsupported(in: changed) == setting, "\(profile) \(setting)")
                #expect(profile.refusal(of: setting).contains("accepted: \(profile.parameters.value(of: setting))"))
            }
        }
        var keras = LossParameters(negPosRatio: 1, nNegMin: 4, alpha: 0.5, mining: .image, scores: .logits)
        #expect(LossProfile.keras.firstUnsupported(in: keras) == nil)
        keras.profile = .keras
        #expect(LossProfile.keras.parameters == LossParameters())
    }

    private func check(_ result: LossResult, _ golden: ProfileGoldenCase) {
        let e = golden.expected
        #expect(isClose(result.loss, e.loss, tolerance: 1e-5), "loss \(result.loss) vs \(e.loss)")
        #expect(isClose(result.classification, e.classification, tolerance: 1e-5))
        #expect(isClose(result.localization, e.localization, tolerance: 1e-5))
        #expect(result.positives == e.positives)
        #expect(result.negatives == e.negatives)
        if let perItem = e.perItem {
            #expect(result.perItem.count == perItem.count)
            for (a, b) in zip(result.perItem, perItem) { #expect(isClose(a, b, tolerance: 1e-5)) }
        }
    }

    /// Computes a batch of two (keras) or four (compact) frames, viewed in place, on `path`.
    static func compute(
        _ parameters: LossParameters, _ shape: BatchShape, _ dtype: ScalarType, frames: [[UInt8]],
        path: KernelPath = .active
    ) throws -> LossResult {
        let kernel = MultiBoxLoss(parameters: parameters, path: path)
        let a = frames[0], b = frames[1], c = frames.count == 4 ? frames[2] : [], d = frames.count == 4 ? frames[3] : []
        return try a.withUnsafeBytes { a in
            try b.withUnsafeBytes { b in
                try c.withUnsafeBytes { c in
                    try d.withUnsafeBytes { d in
                        let input: LossInput =
                            frames.count == 4
                            ? .compact(labels: a, gtOffsets: b, scores: c, predOffsets: d) : .keras(yTrue: a, yPred: b)
                        return try kernel.compute(input, shape: shape, dtype: dtype)
                    }
                }
            }
        }
    }
}

import Testing

@testable import SSDLoss

@Suite("Radix selection")
struct HardNegativeMinerTests {
    /// Losses with heavy ties, values one ulp apart and negative values, so the selection's
    /// every digit pass and its tie rule are exercised.
    static func losses(count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let pool: [Double] = [1, 1.0.nextUp, 1.0.nextUp.nextUp, 1.0.nextDown, 2, 1e-300, -0.5, -1e-300, 3e200]
        return (0..<count).map { _ in
            Bool.random(using: &rng) ? pool.randomElement(using: &rng) ?? 1 : Double.random(in: -1...1, using: &rng)
        }
    }

    @Test("keeps the k largest, ties to the lowest index", arguments: 0..<12)
    func matchesSort(_ seed: Int) {
        let values = Self.losses(count: 200 + seed * 31, seed: UInt64(seed))
        let workspace = LossWorkspace()
        workspace.reserve(boxes: values.count)
        for (i, value) in values.enumerated() {
            workspace.negativeLosses[i] = value
            workspace.classLosses[i] = Double(i) * Double(i) + 1
        }
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        for k in [0, 1, 2, 7, values.count / 3, values.count / 2, values.count - 1, values.count, values.count + 5] {
            let expected = order.prefix(k).reduce(0.0) { $0 + Double($1) * Double($1) + 1 }
            let actual = HardNegativeMiner.keptClassLoss(workspace, entries: 0..<values.count, k: k)
            #expect(actual == expected, "k = \(k)")
            let split = values.count / 3
            let perImage = HardNegativeMiner.keptClassLossPerImage(
                workspace, segmentEnds: [split, split, values.count], k: k)
            #expect(perImage.reduce(0, +) == expected, "k = \(k)")
            let firstImage = order.prefix(k).filter { $0 < split }.reduce(0.0) { $0 + Double($1) * Double($1) + 1 }
            #expect(perImage[0] == firstImage && perImage[1] == 0)
        }
    }

    @Test(
        "keeps the k largest of many negatives, across the sample and the switch of digit widths",
        arguments: [HardNegativeMiner.wideDigitCandidates + 1, 9_000, 40_000])
    func matchesSortWhenLarge(_ count: Int) {
        let values = Self.losses(count: count, seed: UInt64(count))
        let workspace = LossWorkspace()
        workspace.reserve(boxes: values.count)
        for (i, value) in values.enumerated() {
            workspace.negativeLosses[i] = value
            workspace.classLosses[i] = Double(i % 1000) + 1
        }
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        // Small k takes the sample; the largest leave thousands of candidates to 12-bit digits.
        for k in [1, 3, 40, count / 50, count / 3, count - 1] {
            let expected = order.prefix(k).reduce(0.0) { $0 + Double($1 % 1000) + 1 }
            #expect(HardNegativeMiner.keptClassLoss(workspace, entries: 0..<count, k: k) == expected, "k = \(k)")
            let quarter = count / 4
            let perImage = HardNegativeMiner.keptClassLossPerImage(
                workspace, segmentEnds: [quarter, 2 * quarter, 3 * quarter, count], k: k)
            #expect(perImage.reduce(0, +) == expected, "k = \(k)")
            #expect(HardNegativeMiner.kthLargest(workspace, entries: 0..<count, k: k) == values[order[k - 1]])
        }
    }

    @Test("the order statistic is what sorting puts at each position", arguments: 0..<6)
    func orderStatistic(_ seed: Int) {
        let values = Self.losses(count: 1 + seed * 97, seed: UInt64(100 + seed))
        let sorted = values.sorted()
        for target in Set([0, values.count / 2, values.count - 1, seed % values.count]) {
            var scratch = values
            let found = scratch.withUnsafeMutableBufferPointer { HardNegativeMiner.orderStatistic($0, target) }
            #expect(found == sorted[target], "position \(target) of \(values.count)")
        }
    }

    @Test("order keys sort like the doubles they encode")
    func orderKeys() {
        let values: [Double] = [-.infinity, -3e300, -1, -1e-300, -0.0, 0, 1e-300, 1, 1.0.nextUp, 3e300, .infinity]
        let keys = values.map(HardNegativeMiner.orderKey)
        #expect(keys == keys.sorted())
        #expect(Set(keys).count == keys.count)
    }
}

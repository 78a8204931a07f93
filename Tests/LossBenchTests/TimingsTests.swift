import Testing

@testable import LossBench

@Suite("Benchmark timings")
struct TimingsTests {
    static func timings(_ seconds: [Double]) -> Timings {
        var timings = Timings()
        for value in seconds { timings.add(.nanoseconds(Int64(value * 1e9))) }
        return timings
    }

    @Test("the ratio pairs samples in the order taken, not medians of different moments")
    func pairedRatio() {
        // A machine twice as slow during the second pair: each pair's ratio is 2, 2 and 1,
        // while the medians (3 and 3) would claim a ratio of 1.
        let kernel = Self.timings([2, 10, 3])
        let floor = Self.timings([1, 5, 3])
        #expect(abs(kernel.medianRatio(to: floor) - 2) < 1e-9)
        #expect(abs(kernel.median / floor.median - 1) < 1e-9)
    }

    @Test("an even count takes the mean of the middle two ratios; no pair gives 0")
    func edges() {
        #expect(abs(Self.timings([1, 4, 9, 16]).medianRatio(to: Self.timings([1, 1, 1, 1])) - 6.5) < 1e-9)
        #expect(Self.timings([1, 2]).medianRatio(to: Timings()) == 0)
        #expect(abs(Self.timings([3, 5]).medianRatio(to: Self.timings([1, 0])) - 3) < 1e-9)
    }
}

/// Repeated timings of one thing, summarized as median with min and max.
public struct Timings: Sendable, Hashable {
    /// The samples, in seconds, in the order taken.
    public private(set) var samples: [Double] = []

    /// An empty set of timings.
    public init() {}

    /// Adds one sample.
    public mutating func add(_ duration: Duration) {
        samples.append(duration / .seconds(1))
    }

    /// Times `body` once and adds the sample; returns what `body` returned.
    @discardableResult
    public mutating func measure<T>(_ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        let value = try body()
        add(start.duration(to: .now))
        return value
    }

    /// The median sample in seconds (the mean of the middle two for an even count); 0 when empty.
    public var median: Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// The smallest sample in seconds; 0 when empty.
    public var min: Double { samples.min() ?? 0 }

    /// The largest sample in seconds; 0 when empty.
    public var max: Double { samples.max() ?? 0 }

    /// The median of the ratios `samples[i] / other.samples[i]`, pair by pair in the order
    /// taken (the mean of the middle two for an even count); 0 when there is no pair.
    ///
    /// Benchmarks alternate the measured code with its floor, so each pair was taken back to
    /// back, on the machine as it was at that moment. On a shared or virtual machine whose
    /// speed drifts during a run, the ratio of each pair is steadier than the ratio of two
    /// medians, which may come from different moments.
    public func medianRatio(to other: Timings) -> Double {
        var ratios = Timings()
        for (sample, floor) in zip(samples, other.samples) where floor > 0 {
            ratios.samples.append(sample / floor)
        }
        return ratios.median
    }
}

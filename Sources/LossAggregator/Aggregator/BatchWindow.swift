/// The latest `capacity` batches of one (run, split), for the `window` statistic.
///
/// A ring of (batch size, loss, classification, localization) with running sums, so adding a batch
/// and reading the window's means are O(1). The sums are recomputed from the ring once per
/// `capacity` additions, which keeps the rounding error of adding and subtracting bounded.
/// A non-finite component of a batch is kept in the ring but weighs nothing in that component's mean.
struct BatchWindow: Sendable, Hashable {
    /// One batch: its size and its three components (loss, classification, localization, 0).
    struct Entry: Sendable, Hashable {
        var weight: Double
        var values: SIMD4<Double>
    }

    /// How many batches the window holds.
    let capacity: Int
    /// The ring, oldest at ``head`` once full.
    private(set) var entries: [Entry] = []
    private var head = 0
    private var sumWeights = SIMD4<Double>(repeating: 0)
    private var sumWeighted = SIMD4<Double>(repeating: 0)
    private var additionsSinceRecompute = 0

    /// An empty window of `capacity` (at least 1) batches.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Adds a batch, dropping the oldest when the window is full.
    mutating func add(weight: Double, loss: Double, classification: Double, localization: Double) {
        let entry = Entry(weight: weight, values: SIMD4(loss, classification, localization, 0))
        if entries.count < capacity {
            entries.append(entry)
        } else {
            let (oldWeights, oldWeighted) = Self.contribution(of: entries[head])
            sumWeights -= oldWeights
            sumWeighted -= oldWeighted
            entries[head] = entry
            head = (head + 1) % capacity
        }
        let (weights, weighted) = Self.contribution(of: entry)
        sumWeights += weights
        sumWeighted += weighted
        additionsSinceRecompute += 1
        if additionsSinceRecompute >= capacity {
            recompute()
        }
    }

    /// The batches from oldest to newest.
    var orderedEntries: [Entry] {
        Array(entries[head...] + entries[..<head])
    }

    /// The mean of component `index` (0 loss, 1 classification, 2 localization) over the window,
    /// weighted by batch size, or nil when no batch in it has a finite value.
    func mean(_ index: Int) -> Double? {
        sumWeights[index] > 0 ? sumWeighted[index] / sumWeights[index] : nil
    }

    /// A window of `capacity` holding the newest of `entries` (given oldest first).
    init(capacity: Int, entries restored: [Entry]) {
        self.init(capacity: capacity)
        for entry in restored.suffix(self.capacity) {
            entries.append(entry)
        }
        recompute()
    }

    private mutating func recompute() {
        sumWeights = SIMD4(repeating: 0)
        sumWeighted = SIMD4(repeating: 0)
        for entry in entries {
            let (weights, weighted) = Self.contribution(of: entry)
            sumWeights += weights
            sumWeighted += weighted
        }
        additionsSinceRecompute = 0
    }

    /// What an entry adds to the sums: its weight and weighted value where the value is finite.
    private static func contribution(of entry: Entry) -> (SIMD4<Double>, SIMD4<Double>) {
        var weights = SIMD4<Double>(repeating: 0)
        var weighted = SIMD4<Double>(repeating: 0)
        for index in 0..<3 where entry.values[index].isFinite {
            weights[index] = entry.weight
            weighted[index] = entry.weight * entry.values[index]
        }
        return (weights, weighted)
    }
}

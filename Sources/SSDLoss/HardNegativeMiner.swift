/// Chooses the k hardest negatives (largest `nl`) and sums their classification loss.
///
/// Selection, never a sort: an MSD radix select on order-preserving integer keys of the losses
/// finds the k-th largest value `v` in at most six passes, each over the survivors of the last
/// (O(n), no bad cases). Every loss above `v` is kept and, among those equal to `v`, the ones
/// with the lowest flat index `b * N + n` (the workspace holds negatives in flat-index order).
enum HardNegativeMiner {
    /// Where the kept negatives end: keep every key above `key`, and the first `ties` equal to it.
    struct Threshold {
        var key: UInt64
        var ties: Int
    }

    /// `sum cl` of the `k` largest of the negatives in `entries`, ties to the lowest index.
    static func keptClassLoss(_ workspace: LossWorkspace, entries: Range<Int>, k: Int) -> Double {
        guard k > 0, !entries.isEmpty else { return 0 }
        guard k < entries.count else { return sum(workspace, entries: entries) }
        var threshold = select(workspace, entries: entries, k: k)
        return sumKept(workspace, entries: entries, threshold: &threshold)
    }

    /// Per image, `sum cl` of that image's share of the `k` largest negatives of the whole batch.
    ///
    /// Image b owns entries `segmentEnds[b-1]..<segmentEnds[b]`.
    static func keptClassLossPerImage(_ workspace: LossWorkspace, segmentEnds: [Int], k: Int) -> [Double] {
        let total = segmentEnds.last ?? 0
        var result = Array(repeating: 0.0, count: segmentEnds.count)
        guard k > 0, total > 0 else { return result }
        var threshold =
            k < total ? select(workspace, entries: 0..<total, k: k) : Threshold(key: 0, ties: total)
        var start = 0
        for (image, end) in segmentEnds.enumerated() {
            result[image] = sumKept(workspace, entries: start..<end, threshold: &threshold)
            start = end
        }
        return result
    }

    /// A total order on doubles as unsigned integers: larger value, larger key.
    @inline(__always)
    static func orderKey(_ value: Double) -> UInt64 {
        let bits = value.bitPattern
        return bits & 0x8000_0000_0000_0000 != 0 ? ~bits : bits | 0x8000_0000_0000_0000
    }

    private static func sum(_ workspace: LossWorkspace, entries: Range<Int>) -> Double {
        let classLosses = workspace.classLosses
        var total = 0.0
        for i in entries { total += classLosses[i] }
        return total
    }

    private static func sumKept(
        _ workspace: LossWorkspace, entries: Range<Int>, threshold: inout Threshold
    ) -> Double {
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        var total = 0.0
        var ties = threshold.ties
        let cut = threshold.key
        for i in entries {
            let key = orderKey(negativeLosses[i])
            if key > cut {
                total += classLosses[i]
            } else if key == cut, ties > 0 {
                total += classLosses[i]
                ties &-= 1
            }
        }
        threshold.ties = ties
        return total
    }

    /// The threshold of the `k` largest of `entries`, for `0 < k < entries.count`.
    static func select(_ workspace: LossWorkspace, entries: Range<Int>, k: Int) -> Threshold {
        let keys = workspace.keys
        let negativeLosses = workspace.negativeLosses
        var n = 0
        for i in entries {
            keys[n] = orderKey(negativeLosses[i])
            n &+= 1
        }
        // Still to pick from the survivors, largest first.
        var remaining = k
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2048) { histogram in
            // Digits of 11 bits from the top: shifts 53, 42, 31, 20, 9, then the last 9 bits.
            var shift = 53
            while true {
                let width = shift == 0 ? 9 : 11
                let mask: UInt64 = (1 << UInt64(width)) - 1
                let buckets = 1 << width
                for d in 0..<buckets { histogram[d] = 0 }
                for i in 0..<n { histogram[Int((keys[i] &>> UInt64(shift)) & mask)] &+= 1 }
                var bucket = buckets - 1
                var above = 0
                while above + histogram[bucket] < remaining {
                    above += histogram[bucket]
                    bucket -= 1
                }
                remaining -= above
                var survivors = 0
                for i in 0..<n where Int((keys[i] &>> UInt64(shift)) & mask) == bucket {
                    keys[survivors] = keys[i]
                    survivors &+= 1
                }
                n = survivors
                if remaining == n {
                    // Every survivor is kept: cut at the smallest, keeping all its copies.
                    var smallest = UInt64.max
                    var copies = 0
                    for i in 0..<n {
                        if keys[i] < smallest {
                            smallest = keys[i]
                            copies = 1
                        } else if keys[i] == smallest {
                            copies &+= 1
                        }
                    }
                    return Threshold(key: smallest, ties: copies)
                }
                if shift == 0 { break }
                shift = max(shift - 11, 0)
            }
            // Every bit is fixed: the survivors all equal the k-th largest.
            return Threshold(key: n > 0 ? keys[0] : 0, ties: remaining)
        }
    }
}

import CLossKernels

/// Chooses the k hardest negatives (largest `nl`) and sums their classification loss.
///
/// Selection, never a sort: an MSD radix select on order-preserving integer keys of the losses,
/// with the sums taken as it goes. Each round histograms one digit of the remaining candidates,
/// finds the digit `d` where the k-th largest lies, adds the `cl` of every candidate above `d`
/// to its image's sum (they are kept whatever the later digits say), and keeps only the
/// candidates equal to `d`; six rounds at most: O(n), no bad cases. When k is a small fraction
/// of many negatives, a sample first rules out most of them in one cheap pass (see
/// ``sampledCandidates(_:indices:start:ends:k:path:)``), so the rounds see a few k candidates instead of n.
/// Among losses equal to the k-th largest, those with the lowest flat index `b * N + n` are kept
/// (the workspace holds
/// negatives in flat-index order, and every round keeps that order).
enum HardNegativeMiner {
    /// `sum cl` of the `k` largest of the negatives in `entries`, ties to the lowest index.
    static func keptClassLoss(_ workspace: LossWorkspace, entries: Range<Int>, k: Int) -> Double {
        guard k > 0, !entries.isEmpty else { return 0 }
        return keep(workspace, entries: entries, k: k).kept
    }

    /// Per image, `sum cl` of that image's share of the `k` largest negatives of the whole batch.
    ///
    /// Image b owns entries `segmentEnds[b-1]..<segmentEnds[b]`.
    static func keptClassLossPerImage(_ workspace: LossWorkspace, segmentEnds: [Int], k: Int) -> [Double] {
        var result = Array(repeating: 0.0, count: segmentEnds.count)
        guard k > 0, (segmentEnds.last ?? 0) > 0 else { return result }
        var ends = segmentEnds
        result.withUnsafeMutableBufferPointer { sums in
            ends.withUnsafeMutableBufferPointer { ends in
                _ = keep(workspace, start: 0, ends: ends, k: k, sums: sums)
            }
        }
        return result
    }

    /// The k-th largest of `values` (by default the negative losses) in `entries`: −∞ when `k`
    /// covers them all, +∞ when `k` is 0 (no value is kept).
    static func kthLargest(
        _ workspace: LossWorkspace, of values: UnsafeMutablePointer<Double>? = nil, entries: Range<Int>, k: Int
    ) -> Double {
        guard k > 0 else { return .infinity }
        guard k < entries.count else { return -.infinity }
        return keep(workspace, values: values, entries: entries, k: k).kth
    }

    /// ``keep(_:values:start:ends:k:sums:)`` over the one segment `entries`: the kept `sum cl`
    /// and the k-th largest value.
    private static func keep(
        _ workspace: LossWorkspace, values: UnsafeMutablePointer<Double>? = nil, entries: Range<Int>, k: Int
    ) -> (kept: Double, kth: Double) {
        var kept = 0.0
        var end = entries.upperBound
        let kth = withUnsafeMutablePointer(to: &kept) { sum in
            withUnsafeMutablePointer(to: &end) { end in
                keep(
                    workspace, values: values, start: entries.lowerBound,
                    ends: UnsafeMutableBufferPointer(start: end, count: 1),
                    k: k, sums: UnsafeMutableBufferPointer(start: sum, count: 1))
            }
        }
        return (kept, kth)
    }

    /// A total order on doubles as unsigned integers: larger value, larger key.
    @inline(__always)
    static func orderKey(_ value: Double) -> UInt64 {
        let bits = value.bitPattern
        return bits & 0x8000_0000_0000_0000 != 0 ? ~bits : bits | 0x8000_0000_0000_0000
    }

    /// Adds to `sums[i]` the `cl` of segment i's share of the `k` largest negatives of entries
    /// `start ..< ends.last`, where segment i ends at `ends[i]`, and returns the k-th largest
    /// loss (−∞ when `k` covers every entry). `ends` is scratch afterwards.
    private static func keep(
        _ workspace: LossWorkspace, values: UnsafeMutablePointer<Double>? = nil, start: Int,
        ends: UnsafeMutableBufferPointer<Int>, k: Int, sums: UnsafeMutableBufferPointer<Double>
    ) -> Double {
        let negativeLosses = values ?? workspace.negativeLosses
        let classLosses = workspace.classLosses
        let total = (ends.last ?? start) - start
        guard total > 0 else { return -.infinity }
        if k >= total {
            var first = start
            for segment in ends.indices {
                for i in first..<ends[segment] { sums[segment] += classLosses[i] }
                first = ends[segment]
            }
            return -.infinity
        }
        // Candidates: their entry indices and keys, compacted in place round after round.
        let keys = workspace.keys
        let indices = workspace.indices
        let path = (workspace.lastPath ?? .active).kernel
        var count =
            sampledCandidates(negativeLosses, indices: indices, start: start, ends: ends, k: k, path: path)
            ?? {
                // Every entry is a candidate; segment ends count candidates, not entries.
                for entry in start..<(start &+ total) { indices[entry &- start] = entry }
                for segment in ends.indices { ends[segment] &-= start }
                return total
            }()
        for candidate in 0..<count {
            keys[candidate] = orderKey(negativeLosses[indices[candidate]])
        }
        var remaining = k
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 1 << 12) { histogram -> Double in
            let histogram = histogram.baseAddress!
            // Digits from the top (sign and exponent first): 12 bits while many candidates
            // remain, 8 once few do (image mining: a few hundred per image), where clearing and
            // scanning 4,096 buckets a round would cost more than the candidates themselves.
            var shift = 64
            while remaining < count {
                guard shift > 0 else {
                    // Every bit is fixed: the candidates all equal the k-th largest; the first
                    // `remaining` of them, in flat-index order, are kept.
                    var candidate = 0
                    for segment in ends.indices {
                        while candidate < ends[segment], remaining > 0 {
                            sums[segment] += classLosses[indices[candidate]]
                            candidate &+= 1
                            remaining &-= 1
                        }
                    }
                    return negativeLosses[indices[0]]
                }
                let width = min(shift, count > Self.wideDigitCandidates ? 12 : 8)
                shift &-= width
                let mask: UInt64 = (1 << UInt64(width)) - 1
                let buckets = 1 << width
                histogram.initialize(repeating: 0, count: buckets)
                for c in 0..<count { histogram[Int((keys[c] &>> UInt64(shift)) & mask)] &+= 1 }
                let bucket = boundary(histogram, buckets: buckets, remaining: &remaining)
                // Keep the bucket's candidates in order, branch-free; add those above it.
                var kept = 0
                var candidate = 0
                for segment in ends.indices {
                    var sum = 0.0
                    while candidate < ends[segment] {
                        let key = keys[candidate]
                        let entry = indices[candidate]
                        let digit = Int((key &>> UInt64(shift)) & mask)
                        if digit > bucket { sum += classLosses[entry] }
                        keys[kept] = key
                        indices[kept] = entry
                        kept &+= digit == bucket ? 1 : 0
                        candidate &+= 1
                    }
                    sums[segment] += sum
                    ends[segment] = kept
                }
                count = kept
            }
            // Every remaining candidate is kept (remaining == count); the smallest is the k-th.
            var kth = Double.infinity
            var candidate = 0
            for segment in ends.indices {
                while candidate < ends[segment] {
                    sums[segment] += classLosses[indices[candidate]]
                    kth = min(kth, negativeLosses[indices[candidate]])
                    candidate &+= 1
                }
            }
            return kth
        }
    }

    /// The entries that can be among the `k` largest, found from a sample, with `ends` set to
    /// each segment's end among them; nil when sampling does not pay or the sample misled.
    ///
    /// With `k` a small fraction of many negatives (the usual SSD batch: 3 per positive, a few
    /// positives in thousands of boxes), most entries cannot be kept. Every `stride`-th loss is
    /// sorted, a threshold is taken a few standard deviations below where the k-th largest
    /// should fall, and one branch-free pass keeps the indices of the losses above it. If at
    /// least `k` are above, every kept loss is among them (a loss at or below the threshold is
    /// below the k-th largest); otherwise the caller selects over every entry. Either way the
    /// result is exact: the sample only decides how much work the selection does.
    private static func sampledCandidates(
        _ negativeLosses: UnsafeMutablePointer<Double>, indices: UnsafeMutablePointer<Int>, start: Int,
        ends: UnsafeMutableBufferPointer<Int>, k: Int, path: lk_path
    ) -> Int? {
        let total = (ends.last ?? start) - start
        // About a thousand samples: selecting the threshold among them costs a few ns per
        // sample, so small segments (image mining) take one in 32.
        let stride = max(32, total / 1024)
        let samples = total / stride
        let expected = Double(k) * Double(samples) / Double(total)
        // The rank (from the top) of the threshold within the sample.
        let rank = Int(expected + 4 * expected.squareRoot() + 8)
        guard total >= 4096, rank < samples / 2 else { return nil }
        let threshold = withUnsafeTemporaryAllocation(of: Double.self, capacity: samples) { sample in
            for i in 0..<samples { sample[i] = negativeLosses[start &+ i &* stride] }
            return orderStatistic(sample, samples - rank, path: path)
        }
        // Segment ends among the candidates go to scratch first: `ends` must stay in entries
        // if the sample misled and the caller selects over every entry.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: ends.count) { candidateEnds -> Int? in
            var count = 0
            var first = start
            for segment in ends.indices {
                // Branch-free, four losses at a time on AVX2 (CandidateScan.h).
                let end = ends[segment]
                count = lk_candidates_above(path, negativeLosses, first, end, threshold, indices, count)
                first = end
                candidateEnds[segment] = count
            }
            guard count >= k else { return nil }
            for segment in ends.indices { ends[segment] = candidateEnds[segment] }
            return count
        }
    }

    /// Above this many candidates a radix round takes 12-bit digits, at or below it 8-bit ones.
    static let wideDigitCandidates = 4096

    /// The value at ascending position `target` of `values` (what `sort()` would put there),
    /// found by the kernels' quickselect (`lk_select_descending`), which rearranges `values`.
    static func orderStatistic(
        _ values: UnsafeMutableBufferPointer<Double>, _ target: Int, path: lk_path = KernelPath.active.kernel
    ) -> Double {
        guard let base = values.baseAddress else { return .nan }
        // The kernel's quickselect (Refinement.h), counted from the top.
        return lk_select_descending(path, base, values.count, values.count - 1 - target)
    }

    /// The digit of the k-th largest candidate, `remaining` being k: the largest digit whose
    /// bucket and those above it hold at least `remaining`. On return `remaining` counts what is
    /// still to be picked inside that bucket.
    @inline(__always)
    private static func boundary(
        _ histogram: UnsafeMutablePointer<UInt32>, buckets: Int, remaining: inout Int
    ) -> Int {
        var bucket = buckets - 1
        var above = 0
        while above + Int(histogram[bucket]) < remaining {
            above += Int(histogram[bucket])
            bucket -= 1
        }
        remaining -= above
        return bucket
    }
}

/// Chooses the k hardest negatives (largest `nl`) and sums their classification loss.
///
/// Selection, never a sort: an MSD radix select on order-preserving integer keys of the losses,
/// with the sums taken as it goes. Each round histograms one digit of the remaining candidates,
/// finds the digit `d` where the k-th largest lies, adds the `cl` of every candidate above `d`
/// to its image's sum (they are kept whatever the later digits say), and keeps only the
/// candidates equal to `d`. After the first round the candidates are a small fraction of the
/// negatives, so the whole selection costs two reads of the losses (the histogram, then the
/// split) and at most five rounds in all: O(n), no bad cases. Among losses equal to the
/// k-th largest, those with the lowest flat index `b * N + n` are kept (the workspace holds
/// negatives in flat-index order, and every round keeps that order).
enum HardNegativeMiner {
    /// `sum cl` of the `k` largest of the negatives in `entries`, ties to the lowest index.
    static func keptClassLoss(_ workspace: LossWorkspace, entries: Range<Int>, k: Int) -> Double {
        guard k > 0, !entries.isEmpty else { return 0 }
        var total = 0.0
        withUnsafeMutablePointer(to: &total) { sum in
            var end = entries.upperBound
            withUnsafeMutablePointer(to: &end) { end in
                keep(workspace, start: entries.lowerBound, ends: UnsafeMutableBufferPointer(start: end, count: 1),
                     k: k, sums: UnsafeMutableBufferPointer(start: sum, count: 1))
            }
        }
        return total
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
                keep(workspace, start: 0, ends: ends, k: k, sums: sums)
            }
        }
        return result
    }

    /// A total order on doubles as unsigned integers: larger value, larger key.
    @inline(__always)
    static func orderKey(_ value: Double) -> UInt64 {
        let bits = value.bitPattern
        return bits & 0x8000_0000_0000_0000 != 0 ? ~bits : bits | 0x8000_0000_0000_0000
    }

    /// Adds to `sums[i]` the `cl` of segment i's share of the `k` largest negatives of entries
    /// `start ..< ends.last`, where segment i ends at `ends[i]`. `ends` is scratch afterwards.
    private static func keep(
        _ workspace: LossWorkspace, start: Int, ends: UnsafeMutableBufferPointer<Int>, k: Int,
        sums: UnsafeMutableBufferPointer<Double>
    ) {
        let negativeLosses = workspace.negativeLosses
        let classLosses = workspace.classLosses
        let total = (ends.last ?? start) - start
        guard total > 0 else { return }
        if k >= total {
            var first = start
            for segment in ends.indices {
                for i in first..<ends[segment] { sums[segment] += classLosses[i] }
                first = ends[segment]
            }
            return
        }
        // Candidates: their keys and their entry indices, compacted in place round after round.
        let keys = workspace.keys
        let indices = workspace.indices
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 << 16) { histograms in
            // The first digit is the top 16 bits (sign, exponent, 4 mantissa bits), so that the
            // first split leaves few candidates even though most losses share a few exponents.
            // Its histogram reads the losses only; the split recomputes the keys rather than
            // storing them, which saves writing and re-reading 8 bytes a negative.
            // Two histograms, for even and odd entries, halve the chains of increments to the
            // same bucket, which otherwise wait on each other's stores.
            histograms.initialize(repeating: 0)
            let even = histograms.baseAddress!
            let odd = even + (1 << 16)
            var i = start
            let last = start &+ total
            while i &+ 1 < last {
                even[Int(orderKey(negativeLosses[i]) &>> 48)] &+= 1
                odd[Int(orderKey(negativeLosses[i &+ 1]) &>> 48)] &+= 1
                i &+= 2
            }
            if i < last {
                even[Int(orderKey(negativeLosses[i]) &>> 48)] &+= 1
            }
            for d in 0..<(1 << 16) { even[d] &+= odd[d] }
            var remaining = k
            var bucket = boundary(even, buckets: 1 << 16, remaining: &remaining)
            // The first split: candidates are compacted into `keys` and `indices`.
            var count = 0
            var first = start
            for segment in ends.indices {
                var sum = 0.0
                var entry = first
                let end = ends[segment]
                while entry < end {
                    let key = orderKey(negativeLosses[entry])
                    let digit = Int(key &>> 48)
                    if digit > bucket { sum += classLosses[entry] }
                    keys[count] = key
                    indices[count] = entry
                    count &+= digit == bucket ? 1 : 0
                    entry &+= 1
                }
                sums[segment] += sum
                first = end
                ends[segment] = count
            }
            // Then digits of 12 bits: shifts 36, 24, 12, 0.
            var shift = 48
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
                    return
                }
                shift &-= 12
                let mask: UInt64 = (1 << 12) - 1
                let buckets = 1 << 12
                for d in 0..<buckets { even[d] = 0 }
                for c in 0..<count { even[Int((keys[c] &>> UInt64(shift)) & mask)] &+= 1 }
                bucket = boundary(even, buckets: buckets, remaining: &remaining)
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
            // Every remaining candidate is kept (remaining == count).
            var candidate = 0
            for segment in ends.indices {
                while candidate < ends[segment] {
                    sums[segment] += classLosses[indices[candidate]]
                    candidate &+= 1
                }
            }
        }
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

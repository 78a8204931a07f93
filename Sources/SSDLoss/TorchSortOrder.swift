/// The order in which PyTorch's CPU `Tensor.sort(descending=True)` leaves equal values.
///
/// torchvision's SSD loss sorts each image's negative losses with the positives set to −∞ and
/// takes the first k; when k exceeds the negatives, the positives it takes are those the sort
/// put first among the −∞, and that is an order PyTorch does not specify: its CPU kernel
/// (`aten/src/ATen/native/cpu/SortingKernel.cpp`, `stable=False`) calls libstdc++'s `std::sort`
/// (introsort: median-of-three pivots, unguarded partitions, heapsort past a depth of
/// 2·⌊log₂ n⌋, a final insertion sort of runs of 16) on (value, index) pairs compared by value
/// alone. This is that algorithm, step for step, so lossd takes the same positives as the
/// framework does whenever it compares the same float32 values (docs/LOSSES.md).
enum TorchSortOrder {
    /// The indices of `values` in the order PyTorch's CPU sort puts them, largest first.
    static func descending(_ values: [Float]) -> [Int] {
        var sorter = Sorter(values: values)
        sorter.sort()
        return sorter.order
    }

    private struct Sorter {
        var keys: [Float]
        var order: [Int]
        static let threshold = 16

        init(values: [Float]) {
            keys = values
            order = Array(values.indices)
        }

        /// `KeyValueCompDesc`: element `i` goes before element `j` (NaN first, then larger).
        @inline(__always)
        func before(_ a: (Float, Int), _ b: (Float, Int)) -> Bool {
            (a.0.isNaN && !b.0.isNaN) || a.0 > b.0
        }

        @inline(__always)
        func element(_ i: Int) -> (Float, Int) { (keys[i], order[i]) }

        @inline(__always)
        mutating func set(_ i: Int, _ e: (Float, Int)) {
            keys[i] = e.0
            order[i] = e.1
        }

        @inline(__always)
        mutating func swapAt(_ i: Int, _ j: Int) {
            keys.swapAt(i, j)
            order.swapAt(i, j)
        }

        mutating func sort() {
            let n = keys.count
            guard n > 0 else { return }
            introsortLoop(0, n, depth: 2 * (Int.bitWidth - 1 - n.leadingZeroBitCount))
            if n > Self.threshold {
                insertionSort(0, Self.threshold)
                for i in Self.threshold..<n { unguardedLinearInsert(i) }
            } else {
                insertionSort(0, n)
            }
        }

        mutating func introsortLoop(_ first: Int, _ last: Int, depth: Int) {
            var last = last
            var depth = depth
            while last - first > Self.threshold {
                if depth == 0 {
                    heapSort(first, last)
                    return
                }
                depth -= 1
                moveMedianToFirst(first, first + 1, first + (last - first) / 2, last - 1)
                let cut = unguardedPartition(first + 1, last, pivot: first)
                introsortLoop(cut, last, depth: depth)
                last = cut
            }
        }

        mutating func moveMedianToFirst(_ result: Int, _ a: Int, _ b: Int, _ c: Int) {
            let ea = element(a), eb = element(b), ec = element(c)
            if before(ea, eb) {
                if before(eb, ec) {
                    swapAt(result, b)
                } else if before(ea, ec) {
                    swapAt(result, c)
                } else {
                    swapAt(result, a)
                }
            } else if before(ea, ec) {
                swapAt(result, a)
            } else if before(eb, ec) {
                swapAt(result, c)
            } else {
                swapAt(result, b)
            }
        }

        mutating func unguardedPartition(_ first: Int, _ last: Int, pivot: Int) -> Int {
            var first = first
            var last = last
            while true {
                while before(element(first), element(pivot)) { first += 1 }
                last -= 1
                while before(element(pivot), element(last)) { last -= 1 }
                if !(first < last) { return first }
                swapAt(first, last)
                first += 1
            }
        }

        mutating func insertionSort(_ first: Int, _ last: Int) {
            guard first != last else { return }
            var i = first + 1
            while i < last {
                let value = element(i)
                if before(value, element(first)) {
                    var j = i
                    while j > first {
                        set(j, element(j - 1))
                        j -= 1
                    }
                    set(first, value)
                } else {
                    unguardedLinearInsert(i)
                }
                i += 1
            }
        }

        mutating func unguardedLinearInsert(_ position: Int) {
            let value = element(position)
            var last = position
            var next = position - 1
            while before(value, element(next)) {
                set(last, element(next))
                last = next
                next -= 1
            }
            set(last, value)
        }

        /// `std::__partial_sort(first, last, last)`: make a heap, then pop it whole.
        mutating func heapSort(_ first: Int, _ last: Int) {
            let length = last - first
            if length >= 2 {
                var parent = (length - 2) / 2
                while true {
                    adjustHeap(first, hole: parent, length: length, value: element(first + parent))
                    if parent == 0 { break }
                    parent -= 1
                }
            }
            var end = last
            while end - first > 1 {
                end -= 1
                let value = element(end)
                set(end, element(first))
                adjustHeap(first, hole: 0, length: end - first, value: value)
            }
        }

        mutating func adjustHeap(_ first: Int, hole: Int, length: Int, value: (Float, Int)) {
            let top = hole
            var hole = hole
            var second = hole
            while second < (length - 1) / 2 {
                second = 2 * (second + 1)
                if before(element(first + second), element(first + second - 1)) { second -= 1 }
                set(first + hole, element(first + second))
                hole = second
            }
            if length & 1 == 0, second == (length - 2) / 2 {
                second = 2 * (second + 1)
                set(first + hole, element(first + second - 1))
                hole = second - 1
            }
            var parent = (hole - 1) / 2
            while hole > top, before(element(first + parent), value) {
                set(first + hole, element(first + parent))
                hole = parent
                parent = (hole - 1) / 2
            }
            set(first + hole, value)
        }
    }
}

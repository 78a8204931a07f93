/// Lost, duplicated and late batches of one (run, source), from the records' `seq` (SPEC §6).
///
/// Seqs count 0, 1, 2, … per (run, source). With `R` the reorder window and `h` the highest seq
/// seen:
/// - a seq in `h−R … h` not seen yet is **pending**: it may still arrive out of order;
/// - a seq that falls below `h−R` without having been seen is counted **lost**;
/// - a seq seen before is a **duplicate** and is not aggregated again;
/// - a seq that arrives after it was counted lost was never seen, so it is real data: it is
///   aggregated, taken off ``lost`` and counted **late**;
/// - at shutdown (``countPendingAsLost()``), every pending seq counts as lost.
///
/// Memory is bounded: a mark per seq in `h−R−M … h`, where `M` (``memory``) is
/// `max(4·R, 4096)` seqs. A seq older than that is taken as a duplicate: after so long it is far
/// more likely a sender starting its seqs over than a batch delayed by thousands of others.
struct SequenceTracker: Sendable, Hashable {
    /// What became of one observed seq.
    enum Observation: Sendable, Hashable {
        /// First seen: aggregate it.
        case new
        /// First seen after it had been counted lost: aggregate it (it was taken off the lost count).
        case late
        /// Seen before: do not aggregate it again.
        case duplicate
    }

    private enum Mark: UInt8 {
        case unseen = 0
        case seen = 1
        case lost = 2
    }

    /// R: how far below the highest seq a seq may still arrive without being counted lost.
    let reorderWindow: Int
    /// M: how many seqs below the reorder window their lost-or-seen marks are kept for.
    let memory: Int
    /// One mark per seq in `h−R−M … h`, at index `seq % marks.count`.
    private var marks: [UInt8]
    /// The highest seq seen; −1 before any.
    private(set) var highest = -1
    /// Seqs counted lost and not arrived since.
    private(set) var lost = 0
    /// Records whose seq had been seen before.
    private(set) var duplicates = 0
    /// Records that arrived after their seq had been counted lost.
    private(set) var late = 0

    /// A tracker that has seen nothing.
    init(reorderWindow: Int) {
        self.reorderWindow = max(0, reorderWindow)
        memory = max(4 * self.reorderWindow, 4096)
        marks = [UInt8](repeating: Mark.unseen.rawValue, count: self.reorderWindow + 1 + memory)
    }

    /// The lowest seq whose mark is kept.
    private var floor: Int { max(0, highest - reorderWindow - memory) }

    /// The lowest seq that is still pending rather than lost.
    private var pendingFloor: Int { max(0, highest - reorderWindow) }

    private func mark(_ seq: Int) -> Mark {
        Mark(rawValue: marks[seq % marks.count]) ?? .unseen
    }

    private mutating func setMark(_ seq: Int, _ mark: Mark) {
        marks[seq % marks.count] = mark.rawValue
    }

    /// Records that `seq` (≥ 0) arrived and says whether to aggregate its record.
    mutating func observe(_ seq: Int) -> Observation {
        if seq > highest {
            advance(to: seq)
            setMark(seq, .seen)
            return .new
        }
        guard seq >= floor else {
            duplicates += 1
            return .duplicate
        }
        switch mark(seq) {
        case .seen:
            duplicates += 1
            return .duplicate
        case .lost:
            lost -= 1
            late += 1
            setMark(seq, .seen)
            return .late
        case .unseen:
            setMark(seq, .seen)
            return .new
        }
    }

    /// ``observe(_:)``, also saying by how much ``lost`` changed (up when the seq moved the window
    /// past unseen seqs, down by one for a late arrival).
    @inline(__always)
    mutating func observe(_ seq: Int, lostChange: inout Int) -> Observation {
        let before = lost
        let observation = observe(seq)
        lostChange = lost - before
        return observation
    }

    /// Moves the highest seq up to `newHighest`, counting what falls out of the reorder window.
    private mutating func advance(to newHighest: Int) {
        let oldHighest = highest
        let lostBelow = newHighest - reorderWindow  // seqs below this are no longer pending
        // Seqs that were pending and are not any more.
        let leavingLow = max(0, oldHighest - reorderWindow)
        let leavingHigh = min(oldHighest, lostBelow - 1)
        if leavingLow <= leavingHigh {
            for seq in leavingLow...leavingHigh where mark(seq) == .unseen {
                setMark(seq, .lost)
                lost += 1
            }
        }
        // New seqs: those already below the window are lost at once; the rest are pending.
        let newLow = oldHighest + 1
        if newLow < lostBelow {
            lost += lostBelow - newLow
        }
        // Marks only for the seqs that stay remembered; the ring has room for exactly those.
        let writeLow = max(newLow, newHighest - reorderWindow - memory, 0)
        if writeLow <= newHighest {
            for seq in writeLow...newHighest {
                setMark(seq, seq < lostBelow ? .lost : .unseen)
            }
        }
        highest = newHighest
    }

    /// Counts every pending seq as lost: at shutdown every gap counts. A pending seq that
    /// arrives afterwards is taken off the lost count again, as any late arrival is.
    mutating func countPendingAsLost() {
        guard highest >= 0 else { return }
        for seq in pendingFloor...highest where mark(seq) == .unseen {
            setMark(seq, .lost)
            lost += 1
        }
    }

    /// The seqs still pending: not seen, not yet counted lost.
    var pending: [Int] {
        guard highest >= 0 else { return [] }
        return (pendingFloor...highest).filter { mark($0) == .unseen }
    }

    /// The remembered seqs counted lost (those that would be taken as late if they arrived).
    var rememberedLost: [Int] {
        guard highest >= 0 else { return [] }
        return (floor...highest).filter { mark($0) == .lost }
    }

    /// A tracker with the current `reorderWindow`, restored from saved facts.
    ///
    /// Remembered seqs that are neither pending nor lost count as seen. A pending seq that the
    /// current reorder window puts below it becomes lost.
    init(
        reorderWindow: Int, highest: Int, lost: Int, duplicates: Int, late: Int,
        pending: [Int], rememberedLost: [Int]
    ) {
        self.init(reorderWindow: reorderWindow)
        self.duplicates = max(0, duplicates)
        self.late = max(0, late)
        self.lost = max(0, lost)
        guard highest >= 0 else { return }
        self.highest = highest
        for seq in floor...highest { setMark(seq, .seen) }
        for seq in rememberedLost where seq >= floor && seq <= highest { setMark(seq, .lost) }
        for seq in pending where seq >= floor && seq <= highest {
            if seq >= pendingFloor {
                setMark(seq, .unseen)
            } else {
                setMark(seq, .lost)
                self.lost += 1
            }
        }
    }
}

/// The running figures of the classes of one (run, split), kept ascending by class index.
///
/// A loss record lists its classes ascending too, and a split sees the same classes batch after
/// batch, so ``DiagnosticStatistics`` walks the record and the table side by side
/// (``position(of:from:)``): one comparison per class when the class is where it was, a binary
/// search when classes are missing from the record, an insertion only for a class never seen
/// before. No hashing per class, which a dictionary by class index cost twenty times per record.
struct ClassTable: Sendable, Hashable {
    /// The class indices, ascending.
    private(set) var indices: [Int] = []
    /// The figures of the class at the same position of ``indices``.
    private(set) var statistics: [ClassStatistics] = []

    /// The classes kept.
    var count: Int { indices.count }

    /// Where `classIndex` is, or would be inserted, at or after `start`: the first position
    /// whose index is not below it.
    func position(of classIndex: Int, from start: Int) -> Int {
        if start < indices.count, indices[start] >= classIndex { return start }
        var low = start
        var high = indices.count
        while low < high {
            let middle = (low + high) / 2
            if indices[middle] < classIndex { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether the class at `position` is `classIndex`.
    func holds(_ classIndex: Int, at position: Int) -> Bool {
        position < indices.count && indices[position] == classIndex
    }

    /// Adds a batch's figures to the class at `position`.
    mutating func add(at position: Int, positives: Double, classificationSum: Double, decay: Double) {
        statistics[position].add(positives: positives, classificationSum: classificationSum, decay: decay)
    }

    /// Inserts a class not kept yet at `position` (from ``position(of:from:)``).
    mutating func insert(_ classIndex: Int, _ figures: ClassStatistics, at position: Int) {
        indices.insert(classIndex, at: position)
        statistics.insert(figures, at: position)
    }

    /// The figures of `classIndex`, or nil for a class not kept; setting replaces or inserts.
    subscript(classIndex: Int) -> ClassStatistics? {
        get {
            let position = position(of: classIndex, from: 0)
            return holds(classIndex, at: position) ? statistics[position] : nil
        }
        set {
            let position = position(of: classIndex, from: 0)
            switch (holds(classIndex, at: position), newValue) {
            case (true, let figures?): statistics[position] = figures
            case (true, nil):
                indices.remove(at: position)
                statistics.remove(at: position)
            case (false, let figures?): insert(classIndex, figures, at: position)
            case (false, nil): break
            }
        }
    }

    /// Every class with its figures, ascending by class index.
    var ordered: [(index: Int, statistics: ClassStatistics)] {
        zip(indices, statistics).map { ($0, $1) }
    }
}

import SSDLoss

/// The per-batch diagnostics of one (run, split), from its loss records' `diagnostics`: images
/// without positives, the largest share of positive anchors in one image, and the classification
/// loss per class (docs/DIAGNOSTICS.md).
///
/// Memory is bounded: a class is kept only when its index lies in 1…C−1 for the record's C
/// (`classes`), so a split holds at most the largest C its records named, and never more than
/// ``maxClasses`` classes (figures of further classes are counted in ``droppedClasses``). The
/// window holds the split's `window` latest batches, each with at most C−1 classes.
struct DiagnosticStatistics: Sendable, Hashable {
    /// The most classes kept per (run, split).
    static let maxClasses = 4096

    /// Loss records that carried diagnostics.
    var batches = 0
    /// Images without positives, over every batch with diagnostics.
    var imagesWithoutPositives = 0
    /// The latest batch's largest share of one image's anchors that are positive (n_pos_b / N).
    var lastMaxPositiveShare: Double?
    /// The running figures per class index.
    var classes = ClassTable()
    /// Class figures not kept: an index outside 1…C−1, positives not above 0, a repeated class in
    /// one record, or a class beyond ``maxClasses``.
    var droppedClasses = 0
    /// The diagnostics of the latest batches, beside the split's ``BatchWindow``.
    var window: DiagnosticWindow

    /// Empty diagnostics with a window of `window` batches.
    init(window: Int) {
        self.window = DiagnosticWindow(capacity: window)
    }

    /// Whether nothing was ever added (a split whose records never carried diagnostics).
    var isEmpty: Bool { batches == 0 && droppedClasses == 0 }

    /// Adds one loss record's diagnostics (nil for a record without them), whose batch has
    /// `classes` classes, background included.
    mutating func add(_ diagnostics: BatchDiagnostics?, classes classCount: Int, decay: Double) {
        guard let diagnostics else {
            window.add(.absent)
            return
        }
        batches += 1
        imagesWithoutPositives += max(0, diagnostics.imagesWithoutPositives)
        lastMaxPositiveShare = diagnostics.maxPositiveShare
        // The classes the window keeps: the record's own array (shared, not copied) unless one
        // of them is dropped.
        var kept: [BatchDiagnostics.ClassFigures]?
        var previous = 0
        var position = 0
        for (offset, figures) in diagnostics.classes.enumerated() {
            // Ascending on the wire; a repeat or a step back would count one class twice.
            guard figures.classIndex > previous, figures.classIndex < classCount, figures.positives > 0,
                figures.positives.isFinite
            else {
                droppedClasses += 1
                if kept == nil { kept = Array(diagnostics.classes[..<offset]) }
                continue
            }
            // Walks the table beside the record: the class is usually where it was last batch.
            position = classes.position(of: figures.classIndex, from: position)
            if classes.holds(figures.classIndex, at: position) {
                classes.add(
                    at: position, positives: figures.positives, classificationSum: figures.classificationSum,
                    decay: decay)
            } else {
                guard classes.count < Self.maxClasses else {
                    droppedClasses += 1
                    if kept == nil { kept = Array(diagnostics.classes[..<offset]) }
                    continue
                }
                var statistics = ClassStatistics()
                statistics.add(positives: figures.positives, classificationSum: figures.classificationSum, decay: decay)
                classes.insert(figures.classIndex, statistics, at: position)
            }
            position += 1
            previous = figures.classIndex
            kept?.append(figures)
        }
        window.add(
            DiagnosticWindow.Entry(
                present: true, imagesWithoutPositives: max(0, diagnostics.imagesWithoutPositives),
                maxPositiveShare: diagnostics.maxPositiveShare, classes: kept ?? diagnostics.classes))
    }
}

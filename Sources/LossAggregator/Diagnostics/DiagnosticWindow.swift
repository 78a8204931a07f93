import SSDLoss

/// The diagnostics of the latest `capacity` batches of one (run, split), beside ``BatchWindow``:
/// the same batches, so the per-class `window` figures and the components' `window` describe one
/// stretch of training.
///
/// A batch whose record carried no `diagnostics` (a sidecar that predates them) holds an empty
/// entry: it takes its place in the window and adds nothing. The window's per-class sums are
/// computed when read, in O(capacity · classes per batch), which keeps them exact (no running
/// subtraction) and costs nothing per record; snapshots are taken about once a second.
struct DiagnosticWindow: Sendable, Hashable {
    /// One batch's diagnostics.
    struct Entry: Sendable, Hashable {
        /// Whether the record carried diagnostics at all.
        var present: Bool
        /// Images of the batch whose ground truth has no positive anchor.
        var imagesWithoutPositives: Int
        /// The largest share of one image's anchors that are positive, n_pos_b / N (0…1).
        var maxPositiveShare: Double
        /// The classes with positives, ascending by class.
        var classes: [BatchDiagnostics.ClassFigures]

        /// The entry of a batch whose record had no diagnostics.
        static let absent = Entry(present: false, imagesWithoutPositives: 0, maxPositiveShare: 0, classes: [])
    }

    /// How many batches the window holds.
    let capacity: Int
    private var entries: [Entry] = []
    private var head = 0

    /// An empty window of `capacity` (at least 1) batches.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// A window of `capacity` holding the newest of `entries` (given oldest first).
    init(capacity: Int, entries restored: [Entry]) {
        self.init(capacity: capacity)
        entries = Array(restored.suffix(self.capacity))
    }

    /// Adds a batch, dropping the oldest when the window is full.
    mutating func add(_ entry: Entry) {
        if entries.count < capacity {
            entries.append(entry)
        } else {
            entries[head] = entry
            head = (head + 1) % capacity
        }
    }

    /// The batches from oldest to newest.
    var orderedEntries: [Entry] {
        Array(entries[head...] + entries[..<head])
    }

    /// The batches in the window.
    var count: Int { entries.count }

    /// What the window's batches add up to.
    struct Totals: Sendable {
        /// Batches whose record carried diagnostics.
        var batches = 0
        /// Images without positives.
        var imagesWithoutPositives = 0
        /// The largest `max_positive_share` of one batch, nil when no batch carried diagnostics.
        var maxPositiveShare: Double?
        /// Per class: Σ positives and Σ classification loss of the batches in which it appeared.
        var classes: [Int: (positives: Double, classificationSum: Double)] = [:]
    }

    /// The window's totals. A class's batch whose loss per positive is not finite is left out,
    /// as the EMA leaves it out.
    var totals: Totals {
        var totals = Totals()
        for entry in entries where entry.present {
            totals.batches += 1
            totals.imagesWithoutPositives += entry.imagesWithoutPositives
            if entry.maxPositiveShare.isFinite {
                totals.maxPositiveShare = max(totals.maxPositiveShare ?? entry.maxPositiveShare, entry.maxPositiveShare)
            }
            for figures in entry.classes where (figures.classificationSum / figures.positives).isFinite {
                let sums = totals.classes[figures.classIndex] ?? (0, 0)
                totals.classes[figures.classIndex] = (
                    sums.positives + figures.positives, sums.classificationSum + figures.classificationSum
                )
            }
        }
        return totals
    }
}
